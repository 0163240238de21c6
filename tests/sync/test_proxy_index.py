"""The proxy screen through the face index (issue 16): the same incidents as the exact scan,
an index file that survives a restart and catches up, and one that lies is never believed.

The faces are real photos (``real_faces``), as in test_proxy.py: Obama is the proxy who sits for
three candidates at two centres; Biden sits at both centres under his own ID (no fraud).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import sqlalchemy as sa

from proctoring import face_index
from proctoring.face_index import FaceIndex, IndexParams
from proctoring.proxy_index import default_path, reindex
from proctoring.proxy_search import pair_incident_id, screen_district
from proctoring.store import Store
from proctoring.sync import sync_once

from .builders import person
from .conftest import DistrictEnv
from .test_proxy import PROXY_A, PROXY_B, PROXY_C, THRESHOLD, _sit


def _day1(district: DistrictEnv, centres: dict[str, Store], real_faces: dict[str, np.ndarray]):
    hn, hp = centres["HN01"], centres["HP02"]
    same = person(7)
    at_hn = _sit(hn, "S1", [(person(1), PROXY_A), (same, "biden/biden.jpg"),
                            (person(2), "person01/img26.jpg")], real_faces)
    at_hp = _sit(hp, "S1", [(person(3), PROXY_B), (same, "biden/biden2.jpg"),
                            (person(4), "person02/img1.jpg")], real_faces)
    for code, store in centres.items():
        assert sync_once(store, district.centre_urls[code]).ok
    return at_hn, at_hp


def _day(district: DistrictEnv, store: Store, session: str, who: int, picture: str,
         real_faces: dict[str, np.ndarray]):
    sat = _sit(store, session, [(person(who), picture)], real_faces)[picture]
    assert sync_once(store, district.centre_urls["HN01"]).ok
    return sat


def test_the_index_finds_what_the_exact_scan_finds_across_restarts_and_days(
        district: DistrictEnv, centres: dict[str, Store], real_faces: dict[str, np.ndarray],
        tmp_path: Path) -> None:
    at_hn, at_hp = _day1(district, centres, real_faces)
    a, b = at_hn[PROXY_A], at_hp[PROXY_B]
    path = tmp_path / "faces.index"
    with district.office() as office:
        first = screen_district(office, actor="office:screen", threshold=THRESHOLD, index=path)
        assert first.incidents == (pair_incident_id(a.id, b.id),)
        assert (first.screened, first.faces_new, first.faces_stored) == (6, 6, 0)
        assert first.index is not None and first.index["indexed"] == 6
        assert path.exists()
    # A restart: a new connection loads the saved file, which holds the six faces.
    c = _day(district, centres["HN01"], "S2", 5, PROXY_C, real_faces)
    with district.office() as office:
        day2 = screen_district(office, actor="office:screen", threshold=THRESHOLD, index=path)
        assert day2.index is not None
        assert day2.index["loaded"] is True and day2.index["rebuilt"] is None
        assert day2.index["caught_up"] == 0
        assert (day2.screened, day2.faces_new, day2.faces_stored) == (1, 1, 6)  # as exact
        assert set(day2.incidents) == {pair_incident_id(c.id, a.id), pair_incident_id(c.id, b.id)}
        assert day2.index["indexed"] == 7  # the incremental add, saved
        again = screen_district(office, actor="office:screen", threshold=THRESHOLD, index=path)
        assert again.incidents == () and again.index["indexed"] == 7


def test_a_stale_index_file_catches_up_and_never_hides_a_pair(
        district: DistrictEnv, centres: dict[str, Store], real_faces: dict[str, np.ndarray],
        tmp_path: Path) -> None:
    """An older copy of the file (a backup put back, a crash after the screen committed but
    before the file was saved) lacks faces the database says were screened: they are read from
    the database and added before the new faces are compared."""
    _day1(district, centres, real_faces)
    path = tmp_path / "faces.index"
    with district.office() as office:
        screen_district(office, actor="office:screen", threshold=THRESHOLD, index=path)
    old = tmp_path / "old.index"
    shutil.copy(path, old)
    c = _day(district, centres["HN01"], "S2", 5, PROXY_C, real_faces)
    with district.office() as office:
        screen_district(office, actor="office:screen", threshold=THRESHOLD, index=path)
    shutil.copy(old, path)  # day 2's face is missing from the file now
    d = _day(district, centres["HN01"], "S3", 6, PROXY_A, real_faces)
    with district.office() as office:
        day3 = screen_district(office, actor="office:screen", threshold=THRESHOLD, index=path)
        assert day3.index is not None and day3.index["caught_up"] == 1
        assert pair_incident_id(d.id, c.id) in day3.incidents


def test_a_tampered_or_foreign_index_file_is_rebuilt_from_the_database(
        district: DistrictEnv, centres: dict[str, Store], real_faces: dict[str, np.ndarray],
        tmp_path: Path) -> None:
    at_hn, at_hp = _day1(district, centres, real_faces)
    path = tmp_path / "faces.index"
    with district.office() as office:
        screen_district(office, actor="office:screen", threshold=THRESHOLD, index=path)
    c = _day(district, centres["HN01"], "S2", 5, PROXY_C, real_faces)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit of the sealed index
    path.write_bytes(bytes(data))
    with district.office() as office:
        day2 = screen_district(office, actor="office:screen", threshold=THRESHOLD, index=path)
        assert day2.index is not None and day2.index["rebuilt"].startswith("file:")
        assert set(day2.incidents) == {pair_incident_id(c.id, at_hn[PROXY_A].id),
                                       pair_incident_id(c.id, at_hp[PROXY_B].id)}
        # A well-formed file sealed with another key (planted from elsewhere, holding none of
        # these faces) is not read either.
        empty = FaceIndex.train(np.eye(1, 128, dtype=np.float32), IndexParams(1, 1, 0.03))
        face_index.save(path, empty, b"", os.urandom(32),
                        {"district": str(office.district.id), "format": 1, "manifest_rows": 0})
        day3 = screen_district(office, actor="office:screen", threshold=THRESHOLD, index=path)
        assert day3.index is not None and day3.index["rebuilt"].startswith("file:")
        assert day3.index["indexed"] == 7
        report = reindex(office, path)
        assert report["indexed"] == 7 and report["rebuilt"] == "asked"
        assert default_path(office).name.endswith("-faces.index")


def test_purged_faces_leave_the_index_and_a_changed_blob_rebuilds_it(
        district: DistrictEnv, centres: dict[str, Store], real_faces: dict[str, np.ndarray],
        tmp_path: Path) -> None:
    at_hn, at_hp = _day1(district, centres, real_faces)
    path = tmp_path / "faces.index"
    with district.office() as office:
        screen_district(office, actor="office:screen", threshold=THRESHOLD, index=path)
    b = at_hp[PROXY_B]
    engine = district.admin()  # the database's owner: what a retention purge leaves behind
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE evidence SET purged_at = now() WHERE checkin_id = :c "
                             "AND kind = 'LIVE_EMBEDDING'"), {"c": b.id})
    c = _day(district, centres["HN01"], "S2", 5, PROXY_C, real_faces)
    with district.office() as office:
        day2 = screen_district(office, actor="office:screen", threshold=THRESHOLD, index=path)
        assert day2.index is not None and day2.index["removed"] == 1
        assert day2.index["rebuilt"] is None and day2.index["indexed"] == 6  # 6 - 1 + 1
        # B's face is gone: C pairs with A only, as the exact scan would say.
        assert set(day2.incidents) == {pair_incident_id(c.id, at_hn[PROXY_A].id)}
    # A blob re-sealed under an id the index holds (nothing normal does that): rebuilt.
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE evidence_blob SET nonce = :n WHERE id = (SELECT id FROM "
                             "evidence WHERE checkin_id = :c AND kind = 'LIVE_EMBEDDING')"),
                     {"n": bytes(12), "c": c.id})
    engine.dispose()
    d = _day(district, centres["HN01"], "S3", 6, PROXY_A, real_faces)
    with district.office() as office:
        day3 = screen_district(office, actor="office:screen", threshold=THRESHOLD, index=path)
        assert day3.index is not None and day3.index["rebuilt"].startswith("database:")
        # C's blob no longer opens: named, not silently dropped; A's pair is still found.
        assert pair_incident_id(d.id, at_hn[PROXY_A].id) in day3.incidents
        assert {u.checkin_id for u in day3.unscreenable} == {c.id}
