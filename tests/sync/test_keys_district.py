"""Keys across the district (issue 11, item 4): a centre's rotated data key still reaches the
office, and the office's own key is never made anew once the district records one."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import select

from proctoring.crypto import BOX_KEY_NAME, KeyStore
from proctoring.district import init_district, open_office
from proctoring.errors import EvidenceUnreadable, KeyMissing
from proctoring.evidence import read_evidence
from proctoring.keyadmin import rotate_key
from proctoring.models import EvidenceBlob, KeyPurpose
from proctoring.store import Store
from proctoring.sync import local_centre, sync_once
from tests.proctoring.helpers import photo

from .builders import ACTOR, admit, person, session_with_roster, unit
from .conftest import DISTRICT_CODE, DistrictEnv


def test_evidence_sealed_before_a_rotation_still_opens_at_the_office(
        district: DistrictEnv, centres: dict[str, Store]) -> None:
    store = centres["HN01"]
    session, entries = session_with_roster(store, "S1", [person(1), person(2)])
    before = admit(store, session, entries[0], person(1)[0], unit(1))
    change = rotate_key(store, KeyPurpose.DATA, centre_id=local_centre(store).id, actor=ACTOR,
                        reason="định kỳ")  # before the centre ever synced
    after = admit(store, session, entries[1], person(2)[0], unit(2))
    result = sync_once(store, district.centre_urls["HN01"])
    assert result.ok and result.keys_sent == 2  # the current key and the rotated one
    with district.office() as office, office.store.read() as tx:
        ids = {b.key_id for b in tx.exec(select(EvidenceBlob)).all()}
    assert ids == {change.key_id, change.old_key_id}
    with district.office() as office:
        for done in (before, after):
            assert read_evidence(office.store, done.evidence_ids[0]) == photo()


def test_the_office_key_is_never_made_anew(district: DistrictEnv, centres: dict[str, Store],
                                           tmp_path: Path) -> None:
    store = centres["HN01"]
    session, entries = session_with_roster(store, "S1", [person(1)])
    done = admit(store, session, entries[0], person(1)[0], unit(1))
    assert sync_once(store, district.centre_urls["HN01"]).ok
    # Another machine without the office's key: init refuses instead of making a new one
    # (every centre's data key is wrapped to the old one), and opens nothing.
    stranger = KeyStore(tmp_path / "stranger", use_keyring=False)
    with pytest.raises(KeyMissing):
        init_district(district.admin_url, code=DISTRICT_CODE, name="Sở", keys=stranger,
                      actor="t:office")
    assert not (tmp_path / "stranger" / f"{BOX_KEY_NAME}.key").exists()
    with open_office(district.office_url, keys=stranger) as other:
        assert not other.can_decrypt
        with pytest.raises(EvidenceUnreadable):
            read_evidence(other.store, done.evidence_ids[0])
    assert not (tmp_path / "stranger" / f"{BOX_KEY_NAME}.key").exists()
    # The office's own machine still opens it.
    with district.office() as office:
        assert office.can_decrypt
        assert read_evidence(office.store, done.evidence_ids[0]) == photo()
