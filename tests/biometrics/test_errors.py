"""Every face error has a key with Vietnamese and English text that tells the invigilator what
to do; decisions and challenges have texts too."""

from __future__ import annotations

import inspect

import pytest

from biometrics import errors
from biometrics.decision import FaceOutcome
from biometrics.liveness import Challenge
from examdesk.i18n import Catalog


def all_error_classes() -> list[type[errors.BiometricsError]]:
    return [cls for _, cls in inspect.getmembers(errors, inspect.isclass)
            if issubclass(cls, errors.BiometricsError)]


def test_every_error_has_both_languages_and_its_own_key() -> None:
    catalog = Catalog.load()
    keys = [cls.key for cls in all_error_classes()]
    assert len(keys) == len(set(keys))
    for key in keys:
        entry = catalog.messages.get(key)
        assert entry is not None, key
        assert entry.get("vi") and entry.get("en"), key


@pytest.mark.parametrize("cls, advice", [
    (errors.NoFace, "Ask the candidate to face the camera"),
    (errors.TooDark, "Turn on more light"),
    (errors.FaceTooSmall, "come closer"),
    (errors.Blurred, "hold still"),
    (errors.HeadTurned, "look straight at the camera"),
    (errors.EyesClosed, "open their eyes"),
    (errors.CameraUnavailable, "plug it back in"),
])
def test_messages_tell_the_invigilator_what_to_do(cls: type[errors.BiometricsError],
                                                  advice: str) -> None:
    assert advice in Catalog.load().text(cls.key, "en")


def test_several_faces_names_the_count_in_both_languages() -> None:
    exc = errors.SeveralFaces(3)
    catalog = Catalog.load()
    assert "3" in catalog.text(exc.key, "vi", **exc.context)
    assert catalog.text(exc.key, "en", **exc.context).startswith("3 faces in view")


def test_quality_errors_are_poor_images_and_all_are_biometrics_errors() -> None:
    for cls in (errors.FaceTooSmall, errors.FaceCutOff, errors.TooDark, errors.TooBright,
                errors.Blurred, errors.HeadTurned, errors.EyesClosed):
        assert issubclass(cls, errors.PoorImage)
    assert all(issubclass(c, errors.BiometricsError) for c in all_error_classes())


def test_decisions_and_challenges_have_texts() -> None:
    catalog = Catalog.load()
    for key in [d.key for d in FaceOutcome] + [c.key for c in Challenge] + [
            "face.liveness.no_face", "face.liveness.no_blink", "face.liveness.no_turn"]:
        assert catalog.messages[key]["vi"] and catalog.messages[key]["en"], key
