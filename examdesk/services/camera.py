"""Open the camera a setting names, for the command line and the desk alike.

The spec is ``biometrics.open_camera``'s: a device number is a webcam; a video, a folder or
image files (a setting joins them with ``os.pathsep``, ``--camera`` gives a list) play as one.
What differs is who reads: the check-in reads frames when it needs them, while the desk's frame
hub reads continuously and would decode a file as fast as it can, so for it files are paced
like a webcam, and stills get a webcam's sensor noise (the hub skips frames when its reader is
busy, and a looped still seen again bit for bit is what a frozen feed looks like).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from biometrics import Camera, open_camera

CONTINUOUS_FPS = 15.0  # files played to a continuous reader, about a webcam's rate


def open_camera_for(spec: str | Sequence[str], *, continuous: bool = False) -> Camera:
    """The camera ``spec`` names; ``continuous``: for a reader that reads without pause (the
    desk's hub), files are paced at :data:`CONTINUOUS_FPS` (a webcam paces itself) and stills
    carry a webcam's sensor noise.
    ``CameraUnavailable`` when it cannot be opened."""
    return open_camera(spec, fps=CONTINUOUS_FPS if continuous else None, sensor_noise=continuous)


def camera_opener(spec: str | Sequence[str], *,
                  continuous: bool = False) -> Callable[[], Camera]:
    """:func:`open_camera_for` deferred: the desk switches its hub to a camera opened later,
    on the hub's own thread."""
    return lambda: open_camera_for(spec, continuous=continuous)
