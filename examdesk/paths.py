"""Where examdesk keeps its files on this computer.

``EXAMDESK_HOME`` puts everything under one folder (tests, portable installs); otherwise the
XDG base directories: settings under ``~/.config/examdesk``, data (trust store, database,
evidence) under ``~/.local/share/examdesk``.
"""

from __future__ import annotations

import os
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
