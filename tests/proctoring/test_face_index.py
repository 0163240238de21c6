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
