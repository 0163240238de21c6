"""The face index of the proxy screen (issue 16): what it returns, its file, attacks on the file.

Random unit vectors stand in for stored faces here (what the index does does not depend on
what the vectors mean); pairs are planted at distances up to the threshold. The district-level
tests with real faces are in tests/sync/test_proxy_index.py.
"""

from __future__ import annotations

import dataclasses
import os
import struct
from pathlib import Path

import numpy as np
import pytest

from proctoring import face_index
from proctoring.face_index import FaceIndex, IndexFileInvalid, IndexParams, exact_pairs
from proctoring.proxy_search import screen_faces
from tests.index_lists import stored_lists

THRESHOLD = 0.2711


def _units(n: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, 128)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _at(v: np.ndarray, distance: float, seed: int) -> np.ndarray:
    """A unit vector exactly ``distance`` away from unit ``v``."""
    w = _units(1, seed)[0]
    w -= (w @ v) * v
    w /= np.linalg.norm(w)
    cos = 1 - distance * distance / 2
    return (cos * v + np.sqrt(1 - cos * cos) * w).astype(np.float32)


def _scene(n: int = 10_000, m: int = 300) -> tuple[np.ndarray, np.ndarray]:
    stored, new = _units(n, 1), _units(m, 2)
    rng = np.random.default_rng(3)
    for k, i in enumerate(rng.choice(m, 40, replace=False)):
        new[i] = _at(stored[int(rng.integers(n))], 0.02 + 0.0062 * k, seed=100 + k)  # ≤ 0.27
    return stored, new


def _index_pairs(index: FaceIndex, new: np.ndarray, stored: np.ndarray) -> set[tuple[int, int]]:
    found = index.candidates(new, THRESHOLD)
    return {(q, len(new) + label)
            for q, label, _ in exact_pairs(new, found, lambda ls: stored[ls], THRESHOLD)}


def _exact(new: np.ndarray, stored: np.ndarray) -> set[tuple[int, int]]:
    return {(p.new, p.other) for p in screen_faces(new, stored, THRESHOLD) if p.other >= len(new)}


@pytest.fixture(scope="module")
def scene() -> tuple[np.ndarray, np.ndarray, FaceIndex]:
    stored, new = _scene()
    index = FaceIndex.train(stored)
    index.add(stored, np.arange(len(stored), dtype=np.int64))
    return stored, new, index


def test_the_index_returns_every_pair_the_exact_scan_returns(scene) -> None:
    stored, new, index = scene
    truth = _exact(new, stored)
    assert len(truth) == 40
    assert _index_pairs(index, new, stored) == truth
    assert index.params.nlist > 1 and index.params.nprobe < index.params.nlist  # approximate


def test_an_incremental_add_and_a_restart_keep_every_pair(scene, tmp_path: Path) -> None:
    stored, new, index = scene
    more = _units(500, 9)
    more[17] = _at(new[5], 0.2, seed=7)  # tomorrow's stored face matches today's new one
    key = os.urandom(32)
    path = tmp_path / "faces.index"
    face_index.save(path, index, b"labels", key, {"district": "d"})
    loaded, manifest, header = face_index.load(path, key)
    assert manifest == b"labels" and header["district"] == "d" and len(loaded) == len(stored)
    loaded.add(more, np.arange(len(stored), len(stored) + len(more), dtype=np.int64))
    face_index.save(path, loaded, b"labels", key, {"district": "d"})
    again, _, _ = face_index.load(path, key)
    everything = np.concatenate([stored, more])
    truth = _exact(new, everything)
    assert (5, len(new) + len(stored) + 17) in truth
    assert _index_pairs(again, new, everything) == truth


@pytest.fixture()
def sealed(scene, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, bytes, bytes]:
    """A saved index in many small chunks (so chunks can be dropped and swapped)."""
    monkeypatch.setattr(face_index, "CHUNK", 4096)
    _, _, index = scene
    key = os.urandom(32)
    path = tmp_path / "faces.index"
    face_index.save(path, index, b"x" * 100, key, {"district": "d"})
    return path, key, path.read_bytes()


def _chunks(data: bytes) -> tuple[bytes, list[bytes]]:
    size = struct.unpack("<I", data[12:16])[0]
    head, pos, out = data[:16 + size], 16 + size, []
    while pos < len(data):
        n = struct.unpack("<Q", data[pos:pos + 8])[0]
        out.append(data[pos:pos + 8 + 12 + n])
        pos += 8 + 12 + n
    return head, out


def test_every_change_to_the_file_is_detected(sealed) -> None:
    path, key, data = sealed
    face_index.load(path, key)  # as written: fine
    head, chunks = _chunks(data)
    assert len(chunks) > 3
    header_at = head.index(b'"district"') + 13  # the d of "d"
    attacks = {
        "a bit of the header": head[:header_at] + b"e" + head[header_at + 1:] + b"".join(chunks),
        "a bit of a chunk": data[:len(data) // 2] + bytes([data[len(data) // 2] ^ 1])
        + data[len(data) // 2 + 1:],
        "two chunks swapped": head + chunks[1] + chunks[0] + b"".join(chunks[2:]),
        "the last chunk dropped": head + b"".join(chunks[:-1]),
        "cut short": data[:-10],
        "bytes appended": data + b"\0" * 8,
        "a chunk repeated": head + chunks[0] + b"".join(chunks),
        "not an index": b"hello",
    }
    for what, bad in attacks.items():
        path.write_bytes(bad)
        with pytest.raises(IndexFileInvalid):
            face_index.load(path, key)
            pytest.fail(f"{what}: not detected")
    path.write_bytes(data)
    with pytest.raises(IndexFileInvalid):
        face_index.load(path, os.urandom(32))  # another office's key
    path.unlink()
    with pytest.raises(IndexFileInvalid):
        face_index.load(path, key)


def test_params_for_size() -> None:
    assert IndexParams.for_size(0).nlist == 1
    assert IndexParams.for_size(100).nlist == 2  # enough points to train each cell
    big = IndexParams.for_size(10_000_000)
    assert big.nlist == face_index.MAX_NLIST and big.nprobe < big.nlist
    assert big.spill == face_index.SPILL and IndexParams.for_size(0).spill is None


def test_adaptive_visits_skip_far_cells_and_keep_every_pair(scene, tmp_path: Path) -> None:
    """Issue 16: with a gap a query visits only the cells whose centroids crowd round it. A
    wide gap visits them all (exact); no gap at all, only the nearest cell (fewer candidates);
    the gap is kept in the file. (Without copies: a spilled index finds these pairs from the
    nearest cell alone.)"""
    stored, new, _ = scene
    index = FaceIndex.train(stored, dataclasses.replace(IndexParams.for_size(len(stored)),
                                                        spill=None))
    index.add(stored, np.arange(len(stored), dtype=np.int64))
    assert index.copies == 0
    truth = _exact(new, stored)
    p = index.params
    wide = FaceIndex(index.index, IndexParams(p.nlist, p.nlist, p.margin, gap=10.0,
                                              spill=p.spill), index.trained_on, index.copies)
    assert _index_pairs(wide, new, stored) == truth
    nearest = FaceIndex(index.index, IndexParams(p.nlist, p.nlist, p.margin, gap=0.0,
                                                 spill=p.spill), index.trained_on, index.copies)
    few, many = (len(i.candidates(new, THRESHOLD).labels) for i in (nearest, wide))
    assert 0 < few < many
    key = os.urandom(32)
    face_index.save(tmp_path / "faces.index", wide, b"", key, {})
    loaded, _, header = face_index.load(tmp_path / "faces.index", key)
    assert header["gap"] == 10.0 and loaded.params.gap == 10.0
    assert _index_pairs(loaded, new, stored) == truth


# --- spilled copies (issue 16: the province screen's recall within 30 s) -----------------------


@pytest.fixture(scope="module")
def spilled() -> tuple[np.ndarray, np.ndarray, FaceIndex]:
    """10^5 stored faces; faces near a cell border stored twice; a query visits 8 of 1024
    cells (1/128: a quarter of the product's default visits)."""
    stored, new = _scene(n=100_000)
    p = IndexParams.for_size(len(stored))
    index = FaceIndex.train(stored, IndexParams(p.nlist, 8, p.margin, spill=0.5))
    index.add(stored, np.arange(len(stored), dtype=np.int64))
    return stored, new, index


def _all_cells(index: FaceIndex) -> FaceIndex:
    p = index.params
    return FaceIndex(index.index, IndexParams(p.nlist, p.nlist, p.margin, spill=p.spill),
                     index.trained_on, index.copies)


def test_a_spilled_index_returns_every_pair_the_exact_scan_returns(spilled) -> None:
    stored, new, index = spilled
    truth = _exact(new, stored)
    assert len(truth) == 40
    assert 0 < index.copies < len(stored) and len(index) == len(stored)
    assert index.index.ntotal == len(stored) + index.copies
    assert _index_pairs(index, new, stored) == truth
    found = index.candidates(new, THRESHOLD)
    assert found.labels.max() < len(stored)  # no copy's label leaks out


def test_a_face_stored_twice_is_returned_once(spilled) -> None:
    """A query equal to a spilled face, visiting every cell, meets both copies: the candidates
    name the face once, with the nearer distance, and the re-rank sees it once."""
    stored, _, index = spilled
    dist, _ = index.index.quantizer.search(stored[:2000], 2)
    twice = np.flatnonzero(dist[:, 1] <= 1.5 * dist[:, 0])[:50]
    assert len(twice) == 50
    wide = _all_cells(index)
    found = wide.candidates(stored[twice], THRESHOLD)
    pairs = list(zip(found.queries.tolist(), found.labels.tolist(), strict=True))
    assert len(pairs) == len(set(pairs))
    assert set(pairs) == {(k, int(label)) for k, label in enumerate(twice)}
    assert float(found.approx.max()) < 1e-2
    ranked = exact_pairs(stored[twice], found, lambda ls: stored[ls], THRESHOLD)
    assert sorted((q, label) for q, label, _ in ranked) == sorted(pairs)


def test_a_spilled_index_survives_a_restart_an_add_and_a_removal(spilled, tmp_path: Path
                                                                  ) -> None:
    stored, new, index = spilled
    key = os.urandom(32)
    path = tmp_path / "faces.index"
    face_index.save(path, index, b"", key, {})
    loaded, _, header = face_index.load(path, key)
    assert header["spill"] == 0.5 and loaded.params.spill == 0.5
    assert loaded.copies == index.copies and len(loaded) == len(stored)
    more = _units(2000, 11)
    more[17] = _at(new[5], 0.2, seed=7)
    loaded.add(more, np.arange(len(stored), len(stored) + len(more), dtype=np.int64))
    assert loaded.copies > index.copies and len(loaded) == len(stored) + len(more)
    face_index.save(path, loaded, b"", key, {})
    again, _, _ = face_index.load(path, key)
    everything = np.concatenate([stored, more])
    truth = _exact(new, everything)
    assert (5, len(new) + len(stored) + 17) in truth
    assert _index_pairs(again, new, everything) == truth
    # Removing a face removes its copy too: no query finds it any more, from either cell.
    gone = np.array([len(stored) + 17], np.int64)
    before = again.copies
    assert again.remove(gone) == 1
    assert len(again) == len(everything) - 1 and again.copies in (before, before - 1)
    assert again.index.ntotal == len(again) + again.copies
    pairs = _index_pairs(_all_cells(again), new, everything)
    assert pairs == truth - {(5, len(new) + len(stored) + 17)}


def test_labels_that_would_collide_with_the_spill_bit_are_refused(spilled) -> None:
    stored, _, index = spilled
    with pytest.raises(ValueError):
        index.add(stored[:1], np.array([face_index.SPILL_BIT], np.int64))
    with pytest.raises(ValueError):
        index.add(stored[:1], np.array([-1], np.int64))


# --- lists sized once before they are filled (the 6·10^9-byte peak at 10^7) --------------------

OLD_FILE = Path(__file__).parent / "data" / "face-index-2b4764a.bin"
"""Written by main 2b4764a's face_index (its lists filled by vector doubling, no room made
on load): 400 rows ``_units(400, 41)`` in four adds of 100, 8 cells, 2 visited, spill 0.05,
key 0x16 × 32, manifest b"old"."""
OLD_KEY = bytes([0x16]) * 32


def _same_lists(a: FaceIndex, b: FaceIndex) -> None:
    for (ids_a, codes_a), (ids_b, codes_b) in zip(stored_lists(a), stored_lists(b), strict=True):
        assert np.array_equal(ids_a, ids_b) and np.array_equal(codes_a, codes_b)


def _same_entries(a: FaceIndex, b: FaceIndex) -> None:
    """The same (id, code) entries in each list, in whatever order."""
    for (ids_a, codes_a), (ids_b, codes_b) in zip(stored_lists(a), stored_lists(b), strict=True):
        oa, ob = np.argsort(ids_a), np.argsort(ids_b)
        assert np.array_equal(ids_a[oa], ids_b[ob]) and np.array_equal(codes_a[oa], codes_b[ob])


def _emptied(index: FaceIndex) -> FaceIndex:
    """The same trained cells, no faces."""
    import faiss

    raw = faiss.clone_index(index.index)
    raw.reset()
    return FaceIndex(raw, index.params, index.trained_on)


def _code_addresses(index: FaceIndex) -> list[int]:
    arrays = index._arrays()
    return [int(arrays.get_codes(cell)) for cell in range(index.params.nlist)]


def test_an_index_file_from_before_the_sized_lists_loads_and_matches_a_sized_fill() -> None:
    """The old file loads; a two-pass fill (placement, reserve, add) of the same rows into the
    same cells stores exactly the same entries in the same order, so the candidates are the
    same; and both stay the same after the same incremental add."""
    old, manifest, header = face_index.load(OLD_FILE, OLD_KEY)
    rows = _units(400, 41)
    assert manifest == b"old" and header["district"] == "fixture"
    assert len(old) == 400 and old.copies == 132 and old.params.spill == 0.05
    sized = _emptied(old)
    places = [sized.placement(rows[start:start + 100]) for start in range(0, 400, 100)]
    sized.reserve(sum(p.counts(sized.params.nlist) for p in places))
    for k, start in enumerate(range(0, 400, 100)):
        sized.add(rows[start:start + 100], np.arange(start, start + 100, dtype=np.int64),
                  places[k])
    assert sized.copies == old.copies
    _same_lists(sized, old)
    queries = np.concatenate([rows[:50], _units(50, 42)])
    queries[50:60] = [_at(rows[7 * k], 0.25, seed=k) for k in range(10)]
    a, b = old.candidates(queries, THRESHOLD), sized.candidates(queries, THRESHOLD)
    assert len(a.labels) >= 60  # each row itself and the ten planted at 0.25
    for field in ("queries", "labels", "approx"):
        assert np.array_equal(getattr(a, field), getattr(b, field))
    more = _units(30, 43)
    for index in (old, sized):
        index.add(more, np.arange(400, 430, dtype=np.int64))
    _same_lists(sized, old)


def test_a_sized_fill_stores_what_adds_in_small_batches_store(scene) -> None:
    """At the test scale (10^4 rows, default cells and copies): one add of everything (which
    sizes each list once) and 40 adds of 250 rows (which leave the lists to grow as before)
    store the same entries in each list (an add stores its rows, then their copies: the order
    within a list follows the batches), and find every pair the exact scan finds."""
    stored, new, index = scene
    assert index.copies > 0
    small = _emptied(index)
    for start in range(0, len(stored), 250):
        small.add(stored[start:start + 250], np.arange(start, start + 250, dtype=np.int64))
    _same_entries(small, index)
    assert _index_pairs(small, new, stored) == _exact(new, stored)


def test_reserved_lists_and_loaded_lists_take_the_next_adds_without_moving(
        scene, tmp_path: Path) -> None:
    """The point of the sizing: once a fill has reserved its lists, no add of the fill
    reallocates a list (its codes stay at one address); after a restart a day's faces go
    into the room ``load`` made, instead of doubling every list they touch."""
    stored, new, index = scene
    fill = _emptied(index)
    places = [fill.placement(stored[s:s + 2500]) for s in range(0, len(stored), 2500)]
    fill.reserve(sum(p.counts(fill.params.nlist) for p in places))
    where = _code_addresses(fill)
    for k, s in enumerate(range(0, len(stored), 2500)):
        fill.add(stored[s:s + 2500], np.arange(s, s + 2500, dtype=np.int64), places[k])
    assert _code_addresses(fill) == where
    key = os.urandom(32)
    face_index.save(tmp_path / "faces.index", fill, b"", key, {})
    loaded, _, _ = face_index.load(tmp_path / "faces.index", key)
    where = _code_addresses(loaded)
    day = _units(200, 12)  # ~1/50 of the stored faces: well within the 1/16 room
    loaded.add(day, np.arange(len(stored), len(stored) + 200, dtype=np.int64))
    assert _code_addresses(loaded) == where
    everything = np.concatenate([stored, day])
    assert _index_pairs(loaded, new, everything) == _exact(new, everything)


def test_reserve_refuses_counts_that_do_not_fit_the_cells(scene) -> None:
    _, _, index = scene
    with pytest.raises(ValueError):
        index.reserve(np.ones(index.params.nlist + 1, np.int64))
    with pytest.raises(ValueError):
        index.reserve(np.full(index.params.nlist, -1, np.int64))


def test_training_on_the_picked_rows_alone_gives_the_cells_of_training_on_all() -> None:
    """A streamed rebuild decrypts only :meth:`FaceIndex.training_rows` of its n rows: trained
    with ``total=n`` on those, the cells, sizes and ``trained_on`` are a train on all n's."""
    rows = _units(12_000, 44)  # 256 cells: 40 rows a cell (10 240) are taken
    params = IndexParams.for_size(len(rows))
    pick = FaceIndex.training_rows(len(rows), params)
    assert pick is not None and len(pick) == 10_240 and (np.diff(pick) > 0).all()
    assert FaceIndex.training_rows(10_240, params) is None
    whole, picked = FaceIndex.train(rows), FaceIndex.train(rows[pick], total=len(rows))
    assert picked.params == whole.params and picked.trained_on == whole.trained_on == 12_000
    cells = params.nlist
    assert np.array_equal(picked.index.quantizer.reconstruct_n(0, cells),
                          whole.index.quantizer.reconstruct_n(0, cells))
