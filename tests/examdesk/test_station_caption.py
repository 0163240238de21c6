"""The station in the desk's header (issue 17): its name and stages in words, both languages."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime

from examdesk.i18n import Catalog
from examdesk.settings import desk_name
from examdesk.views.station_caption import station_caption
from examdesk.views.texts import Texts
from proctoring.stations import StationInfo

SAN_1 = StationInfo(uuid.uuid4(), uuid.uuid4(), "Sân 1", ("theory", "yard"), "ACTIVE",
                    "ABCD-EF01-2345-6789-ABCD", "cli:admin", datetime(2026, 12, 3, tzinfo=UTC))


def test_the_header_names_the_station_and_its_stages_in_words() -> None:
    t = Texts(Catalog.load(), "vi")
    assert station_caption(t, SAN_1) == "Trạm Sân 1 · lý thuyết, sa hình"
    t.set_lang("en")
    assert station_caption(t, SAN_1) == "Station Sân 1 · theory, yard (track)"
    assert station_caption(t, replace(SAN_1, stages=())) == "Station Sân 1 · every stage"
    assert station_caption(t, replace(SAN_1, status="REVOKED")).endswith("— REVOKED")
    assert station_caption(t, None) == ""  # a desk working alone: nothing to say


def test_an_enrolled_desk_signs_its_check_ins_with_its_station_name() -> None:
    """"Already admitted at 07:42 at desk …" names the station unless the desk's settings
    give it another name."""
    assert desk_name({}, "Sân 1") == "Sân 1"
    assert desk_name({"desk": "Cửa 1"}, "Sân 1") == "Cửa 1"
    assert desk_name({"desk": "  "}, None) not in ("", "Sân 1")  # the computer's name
