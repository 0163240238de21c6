"""Open the camera from a spec (examdesk.services.camera): the command line's check-in and the
desk's frame hub open it through one function; only the pacing of files differs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PIL import Image

from biometrics import CameraUnavailable, FileCamera
from examdesk.services.camera import CONTINUOUS_FPS, camera_opener, open_camera_for
from examdesk.views.frames import camera_factory


@pytest.fixture
def stills(tmp_path: Path) -> list[Path]:
    paths = []
    for i, colour in enumerate(("red", "green")):
        paths.append(tmp_path / f"{i}.png")
        Image.new("RGB", (64, 48), colour).save(paths[-1])
    return paths


def test_a_check_in_reads_files_unpaced_the_hub_paced(stills: list[Path]) -> None:
    setting = os.pathsep.join(map(str, stills))
    with open_camera_for(setting) as camera:
        assert isinstance(camera, FileCamera) and camera.fps is None and camera.loop
    with open_camera_for([str(p) for p in stills], continuous=True) as camera:
        assert isinstance(camera, FileCamera) and camera.fps == CONTINUOUS_FPS
        assert len(list(camera.frames(3))) == 3  # the two stills loop


def test_the_desk_setting_goes_through_the_same_function(stills: list[Path]) -> None:
    # app.py and the settings screen switch the hub with camera_factory(settings.camera).
    with camera_factory(str(stills[0]))() as camera:
        assert isinstance(camera, FileCamera) and camera.fps == CONTINUOUS_FPS


def test_opening_is_deferred_and_a_missing_source_is_typed(tmp_path: Path) -> None:
    opener = camera_opener(str(tmp_path / "missing.mp4"), continuous=True)  # nothing opened
    with pytest.raises(CameraUnavailable):
        opener()
