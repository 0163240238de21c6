"""An on-disk cache of per-photo encodings, for repeated calibration and evaluation runs.

Encoding the 723 East Asian photos costs minutes of dlib time; the experiments that follow
(thresholds, cohort normalisation, fusion) cost milliseconds. The cache is explicit — a folder
the caller names (``--cache DIR``), never a hidden global — and only evaluation tools use it:
a check-in never reads or writes it.

Key scheme (shared by every tool that writes the same folder)::

    DIR/<pipeline fingerprint, 16 hex>/<image SHA-256[:2]>/<image SHA-256>.npz

The *pipeline fingerprint* is the SHA-256 of a canonical JSON description of everything that
changes the result: a pipeline name and version (bumped when the encoding code changes), the
settings it uses, and the SHA-256 of each model file. The image is keyed by the SHA-256 of its
bytes, not its path, so a renamed or copied photo is a hit and an edited one a miss. Files are
written to a temporary name in the same folder and renamed (atomic on POSIX), so two processes
filling the same cache never see half a file. Entries are ``.npz`` with ``allow_pickle=False``:
a damaged or foreign file is a miss, never code that runs.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

_MAX_ENTRY_BYTES = 1 << 20  # an entry is a few KiB; anything larger is not ours


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fingerprint(description: Mapping[str, Any]) -> str:
    """The pipeline fingerprint: SHA-256 of the description as canonical JSON."""
    text = json.dumps(description, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Entry:
    """What was computed for one photo: named arrays and a JSON-able dict."""

    arrays: dict[str, NDArray[Any]]
    meta: dict[str, Any]


class DescriptorCache:
    """One pipeline's entries in a cache folder."""

    def __init__(self, directory: str | Path, pipeline: Mapping[str, Any]) -> None:
        self.pipeline = fingerprint(pipeline)
        self.folder = Path(directory) / self.pipeline[:16]
        self._description = dict(pipeline)

    def _path(self, image_sha: str) -> Path:
        if len(image_sha) != 64 or any(c not in "0123456789abcdef" for c in image_sha):
            raise ValueError(f"not a SHA-256 hex digest: {image_sha!r}")
        return self.folder / image_sha[:2] / f"{image_sha}.npz"

    def get(self, image_sha: str) -> Entry | None:
        path = self._path(image_sha)
        try:
            if path.stat().st_size > _MAX_ENTRY_BYTES:
                return None
            with np.load(path, allow_pickle=False) as data:
                arrays = {k: np.array(data[k]) for k in data.files if k != "__meta__"}
                meta = json.loads(str(data["__meta__"]))
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, json.JSONDecodeError):
            return None  # missing, damaged or foreign: computed again and rewritten
        if not isinstance(meta, dict) or meta.get("__pipeline__") != self.pipeline:
            return None
        return Entry(arrays, meta)

    def put(self, image_sha: str, entry: Entry) -> None:
        path = self._path(image_sha)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._describe()
        meta = {**entry.meta, "__pipeline__": self.pipeline}
        fd, tmp = tempfile.mkstemp(prefix=".", suffix=".npz.tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                arrays: dict[str, Any] = {"__meta__": np.array(json.dumps(meta)), **entry.arrays}
                np.savez(f, allow_pickle=False, **arrays)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def _describe(self) -> None:
        # A readable note of what the folder's fingerprint stands for (written once).
        note = self.folder / "pipeline.json"
        if note.exists():
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".", suffix=".json.tmp", dir=self.folder)
        with os.fdopen(fd, "w") as f:
            json.dump(self._description, f, indent=1, sort_keys=True, default=str)
        os.replace(tmp, note)
