"""The proxy screen through the face index (issue 16): the same incidents as the exact scan,
an index file that survives a restart and catches up, and one that lies is never believed.

The faces are real photos (``real_faces``), as in test_proxy.py: Obama is the proxy who sits for
three candidates at two centres; Biden sits at both centres under his own ID (no fraud).
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import numpy as np
import sqlalchemy as sa

from proctoring import face_index
from proctoring.district import Office
from proctoring.face_index import FaceIndex, IndexParams
from proctoring.proxy_index import (
    MANIFEST,
    DistrictIndex,
    StoredFace,
    _add,
    _empty,
    _key,
    default_path,
    read_faces,
    rebuild,
    reindex,
    stored_faces,
)
from proctoring.proxy_search import pair_incident_id, screen_district
from proctoring.store import Store
from proctoring.sync import sync_once
from tests.index_lists import stored_lists

from .builders import person
from .conftest import DistrictEnv
from .district_faces import copy_faces
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


# --- the rebuild, streamed in blocks (bounded memory at 10^7 faces) ---------------------------


def _one_shot(office: Office, stored: dict[uuid.UUID, StoredFace]) -> DistrictIndex:
    """The rebuild as it was before it streamed (branch ram16, 7457c48): every face decrypted
    at once, stacked, trained on, added in one call. Kept here only to compare with."""
    items = sorted(stored.values(), key=lambda s: s.evidence_id.bytes)
    faces, _ = read_faces(office, [s.evidence_id for s in items])
    vectors = [v for s in items for v in faces.get(s.evidence_id, [])]
    sample = np.vstack(vectors) if vectors else np.zeros((0, face_index.DIM), np.float32)
    built = DistrictIndex(FaceIndex.train(sample) if len(sample) else _empty(),
                          np.zeros(0, MANIFEST), {})
    _add(built, [(s, faces[s.evidence_id]) for s in items if s.evidence_id in faces])
    return built


def _entries(index: FaceIndex, *, ordered: bool) -> list[tuple[bytes, bytes]]:
    """Each list's ids and codes (sorted by id unless ``ordered``)."""
    out = []
    for ids, codes in stored_lists(index):
        order = np.arange(len(ids)) if ordered else np.argsort(ids)
        out.append((ids[order].tobytes(), codes[order].tobytes()))
    return out


def _found(index: FaceIndex, queries: np.ndarray) -> list[tuple[int, int, float]]:
    c = index.candidates(queries, THRESHOLD)
    return sorted(zip(c.queries.tolist(), c.labels.tolist(), c.approx.tolist(), strict=True))


def _screened_with_copies(district: DistrictEnv, centres: dict[str, Store],
                          real_faces: dict[str, np.ndarray], tmp_path: Path, n: int
                          ) -> tuple[np.ndarray, list[uuid.UUID]]:
    """Day 1 screened, then ``n`` more stored faces (random, and a few near the real ones)."""
    at_hn, _ = _day1(district, centres, real_faces)
    with district.office() as office:
        screen_district(office, actor="office:screen", threshold=THRESHOLD,
                        index=tmp_path / "day1.index")
    rng = np.random.default_rng(16)
    rows = rng.standard_normal((n, face_index.DIM)).astype(np.float32)
    real = np.stack([v / np.linalg.norm(v) for v in real_faces.values()]).astype(np.float32)
    rows[:len(real)] = real + 0.01 * rng.standard_normal(real.shape).astype(np.float32)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    engine = district.admin()
    try:
        ids = copy_faces(engine, centres["HN01"], at_hn[PROXY_A].id, rows)
    finally:
        engine.dispose()
    return np.concatenate([real, rows[:20]]), ids


def test_a_rebuild_in_small_blocks_is_the_rebuild_of_everything_at_once(
        district: DistrictEnv, centres: dict[str, Store], real_faces: dict[str, np.ndarray],
        tmp_path: Path) -> None:
    """Same manifest (labels in the sorted order), same cells, the same entries in each list
    (in the blocks' order: the same order when one block holds everything) and the same
    candidates, as the one-shot rebuild of the same database; the file loads back."""
    queries, _ = _screened_with_copies(district, centres, real_faces, tmp_path, 600)
    with district.office() as office:
        with office.store.read() as tx:
            stored = stored_faces(tx)
        assert len(stored) == 606
        old = _one_shot(office, stored)
        assert old.index.params.nlist > 1 and old.index.copies > 0
        for block, ordered in ((37, False), (1, False), (10_000, True)):
            path = tmp_path / f"block{block}.index"
            new, bad = rebuild(office, path, stored, reason="asked", block=block)
            assert bad == {}
            assert new.manifest.tobytes() == old.manifest.tobytes()
            assert new.index.params == old.index.params
            assert (new.index.trained_on, new.index.copies) == (606, old.index.copies)
            cells = old.index.params.nlist
            assert np.array_equal(new.index.index.quantizer.reconstruct_n(0, cells),
                                  old.index.index.quantizer.reconstruct_n(0, cells))
            assert _entries(new.index, ordered=ordered) == _entries(old.index, ordered=ordered)
            assert _found(new.index, queries) == _found(old.index, queries)
            loaded, manifest, _ = face_index.load(path, _key(office))
            assert manifest == old.manifest.tobytes() and len(loaded) == 606


def test_an_unreadable_face_among_blocks_is_reported_and_the_others_indexed(
        district: DistrictEnv, centres: dict[str, Store], real_faces: dict[str, np.ndarray],
        tmp_path: Path) -> None:
    _, ids = _screened_with_copies(district, centres, real_faces, tmp_path, 60)
    engine = district.admin()
    try:
        with engine.begin() as conn:  # one bit of one sealed face; another one's blob gone
            conn.execute(sa.text("UPDATE evidence_blob SET ciphertext = "
                                 "set_byte(ciphertext, 3, get_byte(ciphertext, 3) # 1) "
                                 "WHERE id = :e"), {"e": ids[17]})
            conn.execute(sa.text("DELETE FROM evidence_blob WHERE id = :e"), {"e": ids[40]})
            # Recorded sizes that lie only pick other training rows: each face still indexed.
            conn.execute(sa.text("UPDATE evidence SET size = 4096 WHERE id = :e"), {"e": ids[5]})
            conn.execute(sa.text("UPDATE evidence SET size = 0 WHERE id = :e"), {"e": ids[6]})
    finally:
        engine.dispose()
    with district.office() as office:
        with office.store.read() as tx:
            stored = stored_faces(tx)
        assert ids[17] in stored and ids[40] not in stored  # no blob: not a stored face
        stored[ids[40]] = StoredFace(ids[40], stored[ids[0]].checkin_id, bytes(28))
        found, bad = rebuild(office, tmp_path / "faces.index", stored, reason="asked", block=7)
        assert set(bad) == {ids[17], ids[40]}
        assert bad[ids[17]].startswith("unreadable:") and bad[ids[40]] == "unreadable:no blob"
        assert found.live() == len(stored) - 2 == 64
        indexed = {uuid.UUID(bytes=bytes(r["evidence"])) for r in found.manifest}
        assert indexed == set(stored) - set(bad)
        report = reindex(office, tmp_path / "faces.index")
        assert report["indexed"] == 64 and report["unreadable"] == 1
    engine = district.admin()
    try:
        with engine.begin() as conn:  # no size says anything: the rows are counted instead
            conn.execute(sa.text("UPDATE evidence SET size = 0"))
    finally:
        engine.dispose()
    with district.office() as office:
        found, bad = rebuild(office, tmp_path / "faces.index", stored, reason="asked", block=7)
        assert set(bad) == {ids[17], ids[40]} and found.live() == 64
    engine = district.admin()
    try:
        with engine.begin() as conn:  # the only size that says anything is a tampered face's
            conn.execute(sa.text("UPDATE evidence SET size = 512 WHERE id = :e"), {"e": ids[17]})
    finally:
        engine.dispose()
    with district.office() as office:
        found, bad = rebuild(office, tmp_path / "faces.index", stored, reason="asked", block=7)
        assert set(bad) == {ids[17], ids[40]} and found.live() == 64


def test_an_empty_district_rebuilds(district: DistrictEnv, tmp_path: Path) -> None:
    path = tmp_path / "faces.index"
    with district.office() as office:
        report = reindex(office, path)
        assert report["indexed"] == 0 and report["unreadable"] == 0
        found, bad = rebuild(office, path, {}, reason="asked", block=1)
        assert found.live() == 0 and bad == {} and len(found.index) == 0
        loaded, manifest, _ = face_index.load(path, _key(office))
        assert len(loaded) == 0 and manifest == b""
