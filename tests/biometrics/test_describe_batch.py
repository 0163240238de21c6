"""Issue 16's faster check-in: the chips of a check-in described in one batch, and the live
captures' batch spread over both face processes, give the numbers of one chip at a time on one
engine (the decision cannot tell how it was computed). Not timed."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from biometrics import FaceEngine, FileCamera
from biometrics.faces import collect
from biometrics.images import RgbImage, load
from biometrics.remote import ProcessFaceEngine, describe_on_two
from reader.virtual import faces_dir

ORL = faces_dir() / "orl"
FRAMES = [ORL / "s27" / f"{n}.png" for n in (1, 5, 7, 2, 3, 4, 8)]


@pytest.fixture(scope="module")
def child() -> Iterator[ProcessFaceEngine]:
    e = ProcessFaceEngine()
    yield e
    e.close()


def _chips(engine: FaceEngine, people: tuple[str, ...]) -> list[RgbImage]:
    out = []
    for person in people:
        photo = load(ORL / person / "1.png")
        out.append(engine.chip(photo, engine.detect(photo, engine.settings.still)[0]))
    return out


def test_a_batch_gives_each_chip_its_own_descriptor_bit_for_bit(
        engine: FaceEngine, child: ProcessFaceEngine) -> None:
    chips = _chips(engine, ("s1", "s2", "s27"))
    one_by_one = [engine.describe(c) for c in chips]
    assert all(np.array_equal(a, b) for a, b in zip(one_by_one, engine.describe_many(chips),
                                                     strict=True))
    # In the face process: one round trip for the batch, the same numbers, in order.
    there = child.describe_many(chips)
    assert len(there) == 3
    assert all(np.array_equal(a, b) for a, b in zip(one_by_one, there, strict=True))
    assert engine.describe_many([]) == [] and child.describe_many([]) == []


def test_the_portrait_with_jitters_is_the_mean_of_its_crops_described_one_by_one(
        engine: FaceEngine) -> None:
    """``encode`` describes the chip and its augmented crops in one batch: the same embedding
    as describing each crop alone (what it did before)."""
    from biometrics.engine import _JITTERS, _jitter, unit

    photo = load(ORL / "s27" / "10.png")
    face = engine.detect(photo, engine.settings.still)[0]
    chip = engine.chip(photo, face)
    crops = [chip] + [_jitter(chip, *p) for p in _JITTERS[:8]]
    encoder = engine._get().encoder
    raw = [np.asarray(encoder.compute_face_descriptor(c), dtype=np.float64) for c in crops]
    encoded = engine.encode(photo, face, jitters=8)
    assert np.array_equal(encoded.averaged, unit(np.mean(raw, axis=0)))
    assert np.array_equal(encoded.plain, unit(raw[0]))


class _Counting(FaceEngine):
    """An engine that notes which chips it described (the check-in's second process)."""

    def __init__(self, inner: FaceEngine) -> None:
        super().__init__(inner.settings)
        self.inner = inner
        self.described = 0

    def describe_many(self, chips: list[RgbImage]) -> list[np.ndarray]:
        self.described += len(chips)
        return self.inner.describe_many(chips)


def test_two_engines_describe_in_order_with_the_numbers_of_one(
        engine: FaceEngine, child: ProcessFaceEngine) -> None:
    chips = _chips(engine, ("s1", "s2", "s3", "s27", "s5"))
    second = _Counting(child)
    both = describe_on_two(engine, second, chips)
    assert second.described == 2  # the smaller half went to the second engine
    assert all(np.array_equal(a, b) for a, b in zip(engine.describe_many(chips), both,
                                                     strict=True))
    assert len(describe_on_two(engine, second, chips[:1])) == 1
    assert second.described == 2  # one chip: not worth a second process


def test_the_live_captures_are_those_encoded_frame_by_frame(engine: FaceEngine) -> None:
    """``collect`` aligns the chosen frames and describes their chips in one batch (on two
    engines when a check-in has them): the probes are those of encoding each frame alone."""
    with FileCamera(FRAMES, loop=True, frame_size=(1280, 720)) as camera:
        batched = collect(engine, camera)
    second = _Counting(engine)
    with FileCamera(FRAMES, loop=True, frame_size=(1280, 720)) as camera:
        split = collect(engine, camera,
                        describe=lambda chips: describe_on_two(engine, second, chips))
    assert second.described == 1
    with FileCamera(FRAMES, loop=True, frame_size=(1280, 720)) as camera:
        frames = {}
        for _ in range(12):
            frame = camera.read()
            frames[frame.index] = frame.image
    for probe, other in zip(batched, split, strict=True):
        alone = engine.encode(frames[probe.frame_index], probe.face, jitters=0).plain
        assert np.array_equal(probe.embedding, alone)
        assert probe.frame_index == other.frame_index
        assert np.array_equal(probe.embedding, other.embedding)


class _RawCounting(FaceEngine):
    """An engine that notes how many chips it described raw (the live engine helping)."""

    def __init__(self, inner: FaceEngine) -> None:
        super().__init__(inner.settings)
        self.inner = inner
        self.described = 0

    def raw_descriptors(self, chips: list[RgbImage]) -> list[np.ndarray]:
        self.described += len(chips)
        return self.inner.raw_descriptors(chips)


def test_the_portrait_shared_by_two_engines_is_the_portrait_of_one(
        engine: FaceEngine, child: ProcessFaceEngine) -> None:
    """The overlapped check-in's portrait, its jittered chips described one by one on its
    face process and on the live one once that is free: the reference of ``enrol`` on one
    engine, bit for bit, whoever described which chip."""
    import threading

    from biometrics.faces import enrol
    from biometrics.remote import describe_shared

    portrait = (ORL / "s27" / "10.png").read_bytes()
    alone = enrol(engine, portrait)
    free = threading.Event()
    free.set()
    helper = _RawCounting(engine)
    shared = enrol(child, portrait, describe=lambda chips: describe_shared(
        child, chips, second=helper, second_free=free))
    assert np.array_equal(alone.embedding, shared.embedding)
    assert alone.face == shared.face
    busy = _RawCounting(engine)
    never = enrol(child, portrait, describe=lambda chips: describe_shared(
        child, chips, second=busy, second_free=threading.Event()))
    assert busy.described == 0  # never free: the live engine was not touched
    assert np.array_equal(alone.embedding, never.embedding)
    assert describe_shared(child, []) == []


def test_a_stop_between_chips_ends_the_shared_portrait(engine: FaceEngine) -> None:
    from biometrics.engine import jittered_chips
    from biometrics.remote import describe_shared

    photo = load(ORL / "s27" / "10.png")
    chips = jittered_chips(engine.chip(photo, engine.detect(photo, engine.settings.still)[0]),
                           8)
    calls = []

    def between() -> None:
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("stopped")

    with pytest.raises(RuntimeError, match="stopped"):
        describe_shared(engine, chips, between=between)
    assert len(calls) == 3  # two chips described, the third stopped it
