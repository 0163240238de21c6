"""Every message key the storage layer can produce has Vietnamese and English text."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from examdesk.i18n import Catalog
from proctoring import errors

SOURCES = Path(__file__).resolve().parents[2] / "proctoring"
PROBLEM_KINDS = ("modified", "deleted", "inserted", "reordered", "checkpoint_invalid",
                 "checkpoint_mismatch", "head_mismatch", "log_wiped", "checkpoint_untrusted",
                 "checkpoint_missing", "checkpoint_gap", "checkpoint_stale", "key_unknown",
                 "key_replaced",
                 "row_modified", "row_unrecorded", "row_missing", "witness_behind",
                 "witness_key")


def _has_both(catalog: Catalog, key: str) -> bool:
    entry = catalog.messages.get(key)
    return bool(entry and entry.get("vi") and entry.get("en"))


def test_every_error_key() -> None:
    catalog = Catalog.load()
    keys = [cls.key for _, cls in inspect.getmembers(errors, inspect.isclass)
            if issubclass(cls, errors.ProctoringError)]
    assert [k for k in keys if not _has_both(catalog, k)] == []


def test_every_roster_row_key_and_audit_problem() -> None:
    catalog = Catalog.load()
    used = set(re.findall(r'"(roster\.[a-z_]+)"', (SOURCES / "roster.py").read_text()))
    used |= {f"audit.{k}" for k in PROBLEM_KINDS}
    assert len(used) > 20
    assert sorted(k for k in used if not _has_both(catalog, k)) == []


def test_row_errors_read_well_in_both_languages() -> None:
    catalog = Catalog.load()
    line = catalog.text("roster.row", "vi", row=3, column=catalog.text("column.sex", "vi"),
                        text=catalog.text("roster.bad_sex", "vi", value="X"))
    assert line == "Dòng 3, cột Giới tính: “X” không phải giới tính (Nam / Nữ)."
