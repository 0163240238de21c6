"""Where examdesk keeps its files on this computer.

``EXAMDESK_HOME`` puts everything under one folder (tests, portable installs); otherwise the
XDG base directories: settings under ``~/.config/examdesk``, data (trust store, database,
evidence) under ``~/.local/share/examdesk``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path


def _xdg(var: str, fallback: str) -> Path:
    base = os.environ.get(var)
    return Path(base) if base else Path.home() / fallback


def config_dir() -> Path:
    home = os.environ.get("EXAMDESK_HOME")
    if home:
        return Path(home) / "config"
    return _xdg("XDG_CONFIG_HOME", ".config") / "examdesk"


def data_dir() -> Path:
    home = os.environ.get("EXAMDESK_HOME")
    if home:
        return Path(home) / "data"
    return _xdg("XDG_DATA_HOME", ".local/share") / "examdesk"


def trust_dir() -> Path:
    """The CSCA trust store: certificates, master lists and CRLs the centre imported."""
    return data_dir() / "trust"


# Not in a file name on Windows or Linux (the separators, the characters Windows forbids, and
# control characters): a session code such as "TH/2026-1" would otherwise name a folder.
_NOT_IN_FILE_NAME = re.compile(r'[\\/:*?"<>|\x00-\x1f]+')


def file_stem(text: str, fallback: str = "examdesk") -> str:
    """``text`` (a session code, a centre name) as one file name without folders: forbidden
    characters become ``-``; no leading dot (hidden, or "..") and at most 100 characters."""
    stem = _NOT_IN_FILE_NAME.sub("-", text).strip().lstrip(".").strip()[:100]
    return stem or fallback
