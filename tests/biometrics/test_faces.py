"""What an invigilator sees at the desk: match / no match, and the right message when a
picture cannot be compared. All on the shared real photos."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from biometrics import (
    Blurred,
    EyesClosed,
    FaceCutOff,
    FaceEngine,
    FaceOutcome,
    FaceTooSmall,
    HeadTurned,
    NoFace,
    SeveralFaces,
    TooBright,
    TooDark,
    capture,
    compare,
    enrol,
)
from biometrics.config import Quality
from biometrics.errors import PoorImage
from biometrics.faces import Reference
from biometrics.images import RgbImage
from biometrics.quality import check, measure
from reader.virtual import VirtualCccd, load_profile

from .conftest import webcam_frame

Photo = Callable[[str], RgbImage]
Ref = Callable[[str], Reference]


def verdict(engine: FaceEngine, ref: Reference, image: RgbImage, *,
            still: bool = True) -> FaceOutcome:
    probe = capture(engine, image, still=still, check_quality=False)
    return compare(ref.embedding, [probe.embedding], engine.settings.operating_point).decision


def test_same_person_matches_and_another_does_not(engine: FaceEngine, photo: Photo,
                                                  reference: Ref) -> None:
    ref = reference("people/person02/img1.jpg")
    assert verdict(engine, ref, photo("people/person02/img6.jpg")) is FaceOutcome.MATCH
    assert verdict(engine, ref, photo("people/person05/img30.jpg")) is FaceOutcome.NO_MATCH


def test_jpeg2000_chip_portrait_against_webcam_frames_of_the_holder(
        engine: FaceEngine, photo: Photo) -> None:
    # le-hoang-minh's chip carries person13/img25.jpg as JPEG 2000; the candidate at the desk
    # is person13 in another photo, arriving as 1280×720 webcam frames.
    chip = VirtualCccd(load_profile("le-hoang-minh")).lds.portrait.data
    ref = enrol(engine, chip)
    frame = webcam_frame(photo("people/person13/img24.jpg"))
    probe = capture(engine, frame)
    result = compare(ref.embedding, [probe.embedding], engine.settings.operating_point)
    assert result.decision is FaceOutcome.MATCH and result.accepted
    proxy = capture(engine, webcam_frame(photo("people/person09/img39.jpg")))
    result = compare(ref.embedding, [proxy.embedding], engine.settings.operating_point)
    assert result.decision is FaceOutcome.NO_MATCH and not result.accepted


def test_fusing_frames_gives_one_decision(engine: FaceEngine, photo: Photo, reference: Ref) -> None:
    ref = reference("people/obama/obama.jpg")
    probes = [capture(engine, photo(f"people/obama/{n}"), still=True, check_quality=False)
              for n in ("obama1.jpg", "obama3.jpg", "obama-480p.jpg")]
    result = compare(ref.embedding, [p.embedding for p in probes], engine.settings.operating_point)
    assert result.frames == 3 and result.decision is FaceOutcome.MATCH


@pytest.mark.parametrize("name, count", [("several/two_people.jpg", 2),
                                         ("several/couple.jpg", 2),
                                         ("several/selfie-many-people.jpg", 4)])
def test_several_faces_in_view_are_refused(engine: FaceEngine, photo: Photo, name: str,
                                           count: int) -> None:
    with pytest.raises(SeveralFaces) as info:
        capture(engine, photo(name), still=True)
    assert info.value.count == count
    assert info.value.key == "face.several_faces"


def test_a_webcam_frame_with_two_people_is_refused(engine: FaceEngine, photo: Photo) -> None:
    with pytest.raises(SeveralFaces):
        capture(engine, webcam_frame(photo("several/two_people.jpg")))


def test_a_far_background_blob_is_not_a_second_person(engine: FaceEngine, photo: Photo,
                                                      reference: Ref) -> None:
    # person10/img67.jpg: the HOG detector at upsample 1 also reports a 37 px "face" that is a
    # blurred stage light; it must neither block the check-in nor replace the real face.
    image = photo("people/person10/img67.jpg")
    probe = capture(engine, image, still=True, check_quality=False)
    assert probe.face.width > 150
    assert reference("people/person10/img67.jpg").face.width > 150


def test_no_face(engine: FaceEngine, photo: Photo) -> None:
    # The top of a real photo: stage lettering, no person.
    with pytest.raises(NoFace) as info:
        capture(engine, np.ascontiguousarray(photo("people/person10/img67.jpg")[0:250, 0:500]))
    assert info.value.key == "face.no_face"


@pytest.mark.parametrize("name, detector", [("orl/s1/1.png", "hog"),
                                            ("orl/s37/4.png", "hog-padded"),
                                            ("orl/s33/4.png", "cnn")])
def test_hard_stills_are_found_by_the_retries(engine: FaceEngine, photo: Photo, name: str,
                                              detector: str) -> None:
    # ORL faces fill their 92×112 picture: HOG needs a border around them, and one needs the
    # CNN detector. face_recognition's defaults find no face in 12 of the 400 ORL photos.
    faces = engine.detect(photo(name), engine.settings.still)
    assert len(faces) == 1 and faces[0].detector == detector


def test_a_face_far_from_the_camera_is_too_small(engine: FaceEngine, photo: Photo) -> None:
    far = cv2.resize(photo("people/obama/obama.jpg"), None, fx=0.22, fy=0.22,
                     interpolation=cv2.INTER_AREA)
    with pytest.raises(FaceTooSmall) as info:
        capture(engine, far, still=True)
    assert info.value.context["face_px"] < 64


@pytest.mark.parametrize("name", ["partial/obama_partial_face.jpg",
                                  "partial/obama_partial_face2.jpg"])
def test_a_face_cut_by_the_border(engine: FaceEngine, photo: Photo, name: str) -> None:
    with pytest.raises(FaceCutOff) as info:
        capture(engine, photo(name), still=True)
    assert info.value.context["inside"] < 0.9


def _scaled(image: RgbImage, factor: float) -> RgbImage:
    return np.clip(image.astype(np.float32) * factor, 0, 255).astype(np.uint8)


def test_light_and_focus(engine: FaceEngine, photo: Photo) -> None:
    image = photo("people/obama/obama.jpg")
    capture(engine, image, still=True)  # the photo itself passes
    with pytest.raises(TooDark):
        capture(engine, _scaled(image, 0.3), still=True)
    with pytest.raises(TooBright):
        capture(engine, _scaled(image, 1.8), still=True)
    with pytest.raises(Blurred):
        capture(engine, cv2.GaussianBlur(image, (0, 0), 4), still=True)


def test_head_turned_away(engine: FaceEngine, photo: Photo) -> None:
    with pytest.raises(HeadTurned) as info:
        capture(engine, photo("people/kit_harington/john2.jpg"), still=True)
    assert abs(info.value.context["yaw"]) > 30


def test_eyes_closed(engine: FaceEngine, photo: Photo) -> None:
    quality = dataclasses.replace(engine.settings.quality, min_sharpness=0.0)
    relaxed = FaceEngine(dataclasses.replace(engine.settings, quality=quality))
    relaxed._models = engine._get()  # share the loaded models: same session, no reload
    with pytest.raises(EyesClosed):
        capture(relaxed, photo("orl/s27/6.png"), still=True)
    capture(relaxed, photo("orl/s27/2.png"), still=True)  # the same man, eyes open


def test_quality_limits_hold_on_every_frontal_shared_photo(engine: FaceEngine, photo: Photo,
                                                           faces: Path) -> None:
    # Guard against limits so strict that good pictures are refused: every people/ photo
    # whose head is not turned passes the light, focus, size and eye checks.
    failures = []
    for path in sorted((faces / "people").rglob("*.jpg")):
        image = photo(str(path.relative_to(faces)))
        face = engine.detect(image, engine.settings.still)[0]
        try:
            check(measure(image, face, engine.landmarks(image, face)), engine.settings.quality)
        except HeadTurned:
            continue
        except PoorImage as exc:
            failures.append((path.name, exc.key))
    assert failures == []


def test_quality_defaults_are_documented() -> None:
    q = Quality()
    assert q.min_face_px < 100 and 0 < q.min_eye_aspect < 0.2
