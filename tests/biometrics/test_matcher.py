"""1:N search, 1:1 verify and N:N duplicates give the brute-force answers, in distance units."""

from __future__ import annotations

from collections.abc import Callable
from itertools import combinations

import numpy as np
import pytest

from biometrics import FaceEngine, Gallery, capture
from biometrics.images import RgbImage
from biometrics.matcher import BLOCK, as_embeddings, top_k


def unit_rows(n: int, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, 128)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def brute(x: np.ndarray, q: np.ndarray) -> np.ndarray:
    return np.linalg.norm(x.astype(np.float64) - q.astype(np.float64), axis=1)


@pytest.mark.parametrize("n", [1, 7, 5000, 70_001])
def test_search_returns_the_nearest_by_euclidean_distance(n: int) -> None:
    x = unit_rows(n)
    gallery = Gallery([f"id{i}" for i in range(n)], x)
    q = unit_rows(3, seed=9)
    for row in q:
        hits = gallery.search(row, k=5)
        d = brute(x, row)
        expected = np.argsort(d, kind="stable")[:5]
        assert [h.index for h in hits] == list(expected)
        assert [h.id for h in hits] == [f"id{i}" for i in expected]
        assert np.allclose([h.distance for h in hits], d[expected], atol=1e-5)


def test_search_many_agrees_with_search() -> None:
    x = unit_rows(20_000, seed=3)
    gallery = Gallery([str(i) for i in range(len(x))], x)
    queries = unit_rows(40, seed=4)
    many = gallery.search_many(queries, k=3)
    assert [[h.index for h in hits] for hits in many] == [
        [h.index for h in gallery.search(q, 3)] for q in queries]


def test_top_k_is_exact_with_ties_and_odd_sizes() -> None:
    rng = np.random.default_rng(5)
    for n in (5, 4097, 1_000_003):
        v = rng.integers(0, 50, n).astype(np.float32)  # many ties
        for k in (1, 5, 64):
            k = min(k, n)
            got = top_k(v, k)
            assert len(set(got.tolist())) == k
            assert np.array_equal(v[got], np.sort(v)[::-1][:k])


def test_verify_is_the_euclidean_distance_of_unit_vectors() -> None:
    x = unit_rows(2, seed=1)
    gallery = Gallery(["a", "b"], x)
    assert gallery.verify("a", "b") == pytest.approx(float(np.linalg.norm(x[0] - x[1])), abs=1e-6)
    assert gallery.verify("a", x[0]) == pytest.approx(0.0, abs=1e-3)


def test_duplicates_find_every_close_pair_across_blocks() -> None:
    x = unit_rows(BLOCK + 300, seed=2)
    # Plant near-copies across block boundaries and inside one block.
    pairs = [(5, BLOCK + 10), (BLOCK - 1, BLOCK), (100, 200)]
    for a, b in pairs:
        noisy = x[a] + np.random.default_rng(a).standard_normal(128).astype(np.float32) * 0.01
        x[b] = noisy / np.linalg.norm(noisy)
    gallery = Gallery([str(i) for i in range(len(x))], x)
    found = gallery.duplicates(0.3, block=512, workers=2)
    assert sorted((p.a, p.b) for p in found.pairs) == sorted(pairs)
    assert all(p.distance < 0.3 for p in found.pairs)
    assert found.block_bytes == 2 * 512 * 512 * 5  # a float32 product + bool mask a worker


def test_duplicates_are_the_same_whatever_the_workers() -> None:
    """Workers take blocks in whatever order they finish: the pairs, their distances and their
    order (by distance, then rows) do not depend on it, ties included."""
    x = unit_rows(3000, seed=12)
    for k, (a, b) in enumerate([(1, 2999), (700, 701), (5, 2100), (2047, 2048), (9, 10)]):
        x[b] = x[a]  # distance 0: five ties
        if k % 2:
            noisy = x[a] + np.random.default_rng(k).standard_normal(128).astype(np.float32) * 0.02
            x[b] = noisy / np.linalg.norm(noisy)
    gallery = Gallery([str(i) for i in range(len(x))], x)
    runs = [gallery.duplicates(0.4, block=256, workers=w).pairs for w in (1, 2, 3, 8)]
    assert len(runs[0]) == 5 and all(run == runs[0] for run in runs)


def test_duplicates_agree_with_brute_force_on_real_faces(engine: FaceEngine,
                                                        photo: Callable[[str], RgbImage]) -> None:
    names = ["people/obama/obama.jpg", "people/obama/obama-480p.jpg",
             "people/obama/obama_small.jpg", "people/obama/obama2.jpg",
             "people/biden/biden.jpg", "people/person02/img1.jpg",
             "people/person02/img6.jpg", "people/person05/img30.jpg"]
    x = np.stack([capture(engine, photo(n), still=True, check_quality=False).embedding
                  for n in names])
    gallery = Gallery(names, x)
    t = 0.3
    found = {(p.a, p.b) for p in gallery.duplicates(t).pairs}
    expected = {(i, j) for i, j in combinations(range(len(x)), 2)
                if np.linalg.norm(x[i] - x[j]) <= t}
    assert found == expected
    # The same photo at three resolutions is the closest pair there is.
    assert (0, 1) in found and (0, 2) in found
    assert gallery.search(x[5], k=2)[1].id == "people/person02/img6.jpg"


def test_layout_and_validation() -> None:
    x = unit_rows(3)
    gallery = Gallery(["a", "b", "c"], x)
    stored = gallery.embeddings
    assert stored.dtype == np.float32 and stored.flags.c_contiguous and stored.shape == (3, 128)
    assert gallery.nbytes == 3 * 128 * 4
    with pytest.raises(ValueError, match="normalised"):
        as_embeddings(x * 1.4)  # raw dlib descriptors have norms ≈ 1.4
    with pytest.raises(ValueError):
        Gallery(["a", "a", "b"], x)
    with pytest.raises(ValueError):
        gallery.add(["d"], x[:2])
    gallery.add(["d"], x[:1])
    assert len(gallery) == 4 and gallery.search(x[0], k=10)[0].distance < 1e-3


def test_duplicates_split_by_rows_add_up_to_the_whole_scan() -> None:
    x = unit_rows(1500, seed=8)
    x[900] = x[10]
    x[1400] = x[899]
    gallery = Gallery([str(i) for i in range(len(x))], x)
    whole = {(p.a, p.b) for p in gallery.duplicates(0.5, block=256).pairs}
    parts = set()
    for rows in ((0, 700), (700, 1500)):
        parts |= {(p.a, p.b) for p in gallery.duplicates(0.5, block=256, rows=rows).pairs}
    assert parts == whole and {(10, 900), (899, 1400)} <= whole
