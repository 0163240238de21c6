"""The user's settings file: one JSON object, one section per area ("face", …).

Where: ``settings.json`` in :func:`examdesk.paths.config_dir` (``$EXAMDESK_HOME/config`` for a
portable install or a test, else ``~/.config/examdesk``).

A section is read and written whole; writing one section keeps the others. Writes are atomic
(a temporary file in the same folder, flushed to disk, then renamed over the old one), so a
crash or a full disk never leaves half a file, and an exclusive lock around the
read-modify-write keeps two processes from losing each other's section. The file is the
user's own (mode 0600): it holds thresholds, not personal data.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from examdesk.i18n import system_error
from examdesk.paths import config_dir

FILE_NAME = "settings.json"


class SettingsError(Exception):
    """The settings file exists but cannot be read or written."""

    key = "settings.unreadable"

    def __init__(self, detail: str, reason: str = "", **context: object) -> None:
        super().__init__(detail)
        self.detail = detail
        self.context = context
        # Each cause has its own words (settings.<reason>); the detail stays for logs.
        if reason:
            self.key = f"settings.{reason}"


def settings_path() -> Path:
    return config_dir() / FILE_NAME


def desk_name(app_section: dict[str, Any], station: str | None = None) -> str:
    """This station's name for itself, as the ``app`` section's ``desk`` sets it ("Cửa 1");
    else the name it was enrolled under as a station of the centre ("Sân 1"); else the
    computer's name. Stored with each check-in, so "already admitted at 07:42 at desk Cửa 1"
    can say where."""
    import socket
    import unicodedata

    for given in (app_section.get("desk"), station):
        name = " ".join(unicodedata.normalize("NFC", str(given or "")).split())
        if name:
            return name
    return socket.gethostname() or "?"


def read_section(name: str, path: Path | None = None) -> dict[str, Any]:
    """The section *name*, or ``{}`` when the file or the section does not exist."""
    data = _read(path or settings_path())
    section = data.get(name, {})
    if not isinstance(section, dict):
        raise SettingsError(f"section {name!r} is not an object", "section_not_object",
                            path=str(path), section=name)
    return section


def write_section(name: str, values: dict[str, Any], path: Path | None = None) -> Path:
    """Replace the section *name*, keep the others; returns the file written."""
    target = path or settings_path()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with _locked(target):
            data = _read(target)
            data[name] = values
            _write_atomic(target, data)
    except OSError as exc:
        raise SettingsError(system_error(exc), "unwritable", path=str(target)) from exc
    return target


def _read(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise SettingsError(system_error(exc), path=str(path)) from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SettingsError(f"{path} is not valid JSON (line {exc.lineno}): fix or delete it",
                            "not_json", path=str(path), line=exc.lineno) from exc
    if not isinstance(data, dict):
        raise SettingsError(f"{path} does not hold a JSON object", "not_an_object",
                            path=str(path))
    return data


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    # A separate lock file: the settings file itself is replaced by rename, so a lock on it
    # would be a lock on a file that no longer has the name.
    lock_path = path.with_name(path.name + ".lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _write_atomic(path: Path, data: dict[str, Any]) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, ensure_ascii=False, indent=2, sort_keys=True)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    # Make the rename itself durable.
    with contextlib.suppress(OSError):
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
