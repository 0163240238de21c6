"""Where the shared real face photos live (``../shared/faces`` next to the repository)."""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "EXAMDESK_FACES_DIR"
_REPO_ROOT = Path(__file__).resolve().parents[2]


def faces_dir() -> Path:
    """The photo directory: ``$EXAMDESK_FACES_DIR``, else ``<repo>/../shared/faces``, else
    ``/work/shared/faces``.

    A set but wrong ``$EXAMDESK_FACES_DIR`` is an error rather than a silent fall-back, so a
    misconfigured machine does not quietly test against other photos.
    """
    configured = os.environ.get(ENV_VAR)
    if configured:
        path = Path(configured)
        if path.is_dir():
            return path
        raise FileNotFoundError(f"${ENV_VAR} is set to {configured!r}, which is not a directory")
    candidates = [_REPO_ROOT.parent / "shared" / "faces", Path("/work/shared/faces")]
    for path in candidates:
        if path.is_dir():
            return path
    tried = ", ".join(str(p) for p in candidates)
    raise FileNotFoundError(f"no face photo directory: set ${ENV_VAR} or provide one of: {tried}")
