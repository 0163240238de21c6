"""Issue 14: the descriptor cache, groups.csv, the check-in protocol, cohort normalisation and
whitening. Real ORL photos, encoded once per module without augmentation (fast)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from biometrics import FaceSettings
from biometrics.adaptation import Whitening, cohort_stats, s_norm
from biometrics.bulk import EncodedSet, encode_set
from biometrics.cache import DescriptorCache, Entry
from biometrics.config import ORL_POINT, OperatingPoint
from biometrics.dataset import LabelledImages, read_groups
from biometrics.errors import DatasetError
from biometrics.evaluation import evaluate
from biometrics.protocol import ADMIT, REJECT, REVIEW, checkin_protocol, outcomes

SETTINGS = dataclasses.replace(FaceSettings(), portrait_jitters=0)
PEOPLE = ("s1", "s2", "s3", "s4")


@pytest.fixture(scope="module")
def small(faces: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4 ORL people × 3 photos (symlinks to the shared photos)."""
    root = tmp_path_factory.mktemp("set")
    for s in PEOPLE:
        (root / s).mkdir()
        for k in (1, 2, 3):
            (root / s / f"{k}.png").symlink_to(faces / f"orl/{s}/{k}.png")
    return root


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def encoded(small: Path, cache_dir: Path) -> EncodedSet:
    return encode_set(LabelledImages.scan(small), SETTINGS, baseline=True, workers=1,
                      cache=cache_dir)


# --- the cache --------------------------------------------------------------------------------


def test_a_second_run_comes_from_the_cache_with_the_same_numbers(
        small: Path, cache_dir: Path, encoded: EncodedSet) -> None:
    assert encoded.cache_hits == 0
    again = encode_set(LabelledImages.scan(small), SETTINGS, baseline=True, workers=1,
                       cache=cache_dir)
    assert again.cache_hits == 12
    for field in ("references", "probes", "found", "baseline", "baseline_found"):
        assert np.array_equal(getattr(again, field), getattr(encoded, field)), field
    assert again.quality == encoded.quality and again.widths == encoded.widths
    assert again.detectors == encoded.detectors
    # Entries are atomic: no temporary file is left behind, and each pipeline says what it is.
    assert not [p for p in cache_dir.rglob("*") if p.name.endswith(".tmp")]
    notes = [json.loads(p.read_text()) for p in cache_dir.glob("*/pipeline.json")]
    assert {n["pipeline"] for n in notes} == {"examdesk-dlib", "face_recognition-defaults"}


def test_other_settings_do_not_reuse_the_entries(small: Path, cache_dir: Path,
                                                 encoded: EncodedSet) -> None:
    # Only one photo, so the test stays fast: another jitter count is another pipeline.
    one = small.parent / "one"
    if not one.exists():
        for s in ("s1", "s2"):
            (one / s).mkdir(parents=True)
            (one / s / "1.png").symlink_to((small / s / "1.png").resolve())
    other = dataclasses.replace(SETTINGS, portrait_jitters=1)
    first = encode_set(LabelledImages.scan(one), other, workers=1, cache=cache_dir)
    assert first.cache_hits == 0
    assert not np.array_equal(first.references[0], encoded.references[0])  # jittered
    assert np.array_equal(first.probes[0], encoded.probes[0])  # the plain chip is the same


def test_a_damaged_or_foreign_entry_is_a_miss(tmp_path: Path) -> None:
    cache = DescriptorCache(tmp_path, {"pipeline": "test"})
    sha = "ab" * 32
    cache.put(sha, Entry({"x": np.arange(3, dtype=np.float32)}, {"seconds": 1.5}))
    hit = cache.get(sha)
    assert hit is not None and hit.meta["seconds"] == 1.5
    assert np.array_equal(hit.arrays["x"], np.arange(3))
    path = next(tmp_path.rglob(f"{sha}.npz"))
    path.write_bytes(path.read_bytes()[:40])  # truncated
    assert cache.get(sha) is None
    # An object array needs pickle to load: refused, never unpickled.
    with open(path, "wb") as f:
        np.savez(f, __meta__=np.array(json.dumps({})), x=np.array([object()], dtype=object))
    assert cache.get(sha) is None
    # Another pipeline's entry copied into this folder is not taken for ours.
    DescriptorCache(tmp_path, {"pipeline": "other"}).put(sha, Entry({}, {}))
    other = next(p for p in tmp_path.rglob(f"{sha}.npz") if p != path)
    path.write_bytes(other.read_bytes())
    assert cache.get(sha) is None
    with pytest.raises(ValueError):
        cache.get("../../etc/passwd")


# --- groups.csv ---------------------------------------------------------------------------------


def test_groups_file(small: Path, tmp_path: Path) -> None:
    images = LabelledImages.scan(small)
    assert set(read_groups(images).values()) == {small.name}
    for name in ("groups.csv",):
        copy = tmp_path / "copy"
        copy.mkdir()
        for s in PEOPLE:
            (copy / s).symlink_to((small / s).resolve())
        (copy / name).write_text("identity,group\ns1,a\ns2,a\ns3,b\ns4,b\n")
        assert read_groups(LabelledImages.scan(copy)) == {"s1": "a", "s2": "a", "s3": "b",
                                                          "s4": "b"}
        for bad in ("s1,a\ns2,a\ns3,b\n",  # s4 not listed
                    "s1,a\ns2,a\ns3,b\ns4,b\ns5,b\n",  # no such folder
                    "s1,a\ns1,b\ns2,a\ns3,b\ns4,b\n",  # twice
                    "s1;a\n"):
            (copy / name).write_text(bad)
            with pytest.raises(DatasetError):
                read_groups(LabelledImages.scan(copy))


# --- the check-in protocol --------------------------------------------------------------------


def test_failures_to_acquire_go_to_review() -> None:
    point = OperatingPoint(0.4, 0.35, 0.45)
    o = outcomes(np.array([0.1, 0.4, 0.5, np.inf]), point)
    assert (o.admit, o.review, o.reject, o.fta) == (1, 2, 1, 1)


def test_checkin_attempts_and_groups(encoded: EncodedSet) -> None:
    point = OperatingPoint(0.45, 0.40, 0.50)
    report = checkin_protocol(encoded, SETTINGS, None, point)
    (group,) = report.groups
    # Each of 12 photos is the portrait once against its person's other photos, and against
    # each of the 3 other people.
    assert group.genuine.attempts == 12 and group.impostor.attempts == 12 * 3
    for o in (group.genuine, group.impostor, group.baseline_genuine, group.baseline_impostor):
        assert o.admit + o.review + o.reject == o.attempts
        assert o.fta <= o.review
    assert group.baseline_genuine.attempts == 12 and group.baseline_impostor.attempts == 36
    assert group.genuine.admit > group.impostor.admit
    split = checkin_protocol(encoded, SETTINGS, {"s1": "a", "s2": "a", "s3": "b", "s4": "b"},
                             point)
    assert [g.group for g in split.groups] == ["a", "b"]
    # Impostors come from the portrait's own group only: 6 photos × 1 other person each.
    assert [g.impostor.attempts for g in split.groups] == [6, 6]
    assert sum(g.genuine.attempts for g in split.groups) == 12


def test_protocol_follows_the_desk_quality_gate(encoded: EncodedSet) -> None:
    # With an impossible sharpness limit no frame is usable: every attempt is a failure to
    # acquire and goes to REVIEW, never ADMIT.
    strict = dataclasses.replace(SETTINGS, quality=dataclasses.replace(
        SETTINGS.quality, min_sharpness=1e9))
    (group,) = checkin_protocol(encoded, strict, None, ORL_POINT).groups
    assert group.genuine.fta == group.genuine.review == group.genuine.attempts
    assert group.impostor.admit == 0 and group.impostor.fta == group.impostor.attempts
    assert (ADMIT, REVIEW, REJECT) == (0, 1, 2)


def test_evaluate_shows_both_points_with_bounds(small: Path, cache_dir: Path) -> None:
    report = evaluate(LabelledImages.scan(small), SETTINGS, workers=1, cache=cache_dir)
    assert report.cache_hits == 12
    names = [p.name for p in report.points]
    assert names[0] == "configured" and "ORL-calibrated (before issue 14)" in names
    for p in report.points:
        assert p.impostor_pairs == 66 - 12 and p.genuine_pairs == 12
        assert p.fmr <= p.fmr_upper <= 1 and p.fnmr <= p.fnmr_upper
    doc = report.to_dict()
    assert doc["points"][0]["fmr_upper95"] is not None
    assert doc["checkin"]["groups"][0]["examdesk"]["impostor"]["attempts"] == 36


# --- cohort normalisation and whitening --------------------------------------------------------


def test_whitening_equalises_the_cohort(encoded: EncodedSet) -> None:
    x = encoded.probes[encoded.found].astype(np.float64)
    w = Whitening.fit(x, shrinkage=0.1)
    y = w.apply(x)
    assert np.allclose(np.linalg.norm(y, axis=1), 1.0)
    # Centred: the whitened cohort has no common direction left.
    assert np.linalg.norm(y.mean(axis=0)) < 0.5 * np.linalg.norm(x.mean(axis=0))
    with pytest.raises(ValueError):
        Whitening.fit(x[:1])


def test_cohort_normalisation_leaves_the_own_person_out(encoded: EncodedSet) -> None:
    refs = encoded.references.astype(np.float64)
    lab = np.asarray(encoded.labels)
    exclude = lab[:, None] == lab[None, :]
    stats = cohort_stats(refs, refs, exclude=exclude)
    by_hand = [(refs[i] @ refs[~exclude[i]].T) for i in range(len(refs))]
    assert np.allclose(stats.mean, [b.mean() for b in by_hand])
    assert np.allclose(stats.std, [b.std() for b in by_hand])
    top = cohort_stats(refs, refs, exclude=exclude, top=2)
    assert np.allclose(top.mean, [np.sort(b)[-2:].mean() for b in by_hand])
    z = s_norm(refs @ refs.T, stats, None)
    assert np.allclose(z[0, 5], (refs[0] @ refs[5] - stats.mean[0]) / stats.std[0])


def test_the_shipped_point_is_the_east_asian_calibration() -> None:
    # Issue 14: the ORL point let 6 % of East Asian impostor pairs through; the default now
    # comes from the East Asian faces, auto-admits at its threshold, and is stricter.
    shipped = OperatingPoint()
    assert "East Asian" in shipped.source and shipped != ORL_POINT
    assert shipped.review_low == shipped.threshold < shipped.review_high
    assert shipped.threshold < ORL_POINT.review_low
    assert FaceSettings().operating_point == shipped


def test_tradeoff_before_any_confirmed_check_in_shows_the_impostor_side() -> None:
    """The settings screen's table on a new centre: impostor pairs but no confirmed check-in
    yet. The genuine shares are unknown (None), the thresholds and FMR bounds are shown, and
    every row says how many pairs it rests on."""
    from biometrics.population import ImpostorTail, tradeoff

    rng = np.random.default_rng(2)
    tail = ImpostorTail(5000, np.sort(rng.uniform(0.3, 1.4, 5000)), complete=True)
    rows = tradeoff(tail, np.empty(0))
    shown = [r for r in rows if r.threshold is not None]
    assert shown, rows
    for r in shown:
        assert r.threshold is not None
        assert r.genuine_review is None and r.genuine_refused is None
        assert r.fmr_upper is not None and r.fmr_upper <= r.target_fmr
        assert (r.impostor_pairs, r.genuine_pairs) == (5000, 0)
        assert r.false_matches == int(np.searchsorted(tail.smallest, r.threshold, side="right"))
    assert all(r.impostor_pairs == 5000 for r in rows)
