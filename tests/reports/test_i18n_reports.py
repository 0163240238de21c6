"""Every error key and every word the PDFs print exist in Vietnamese and English."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from examdesk.i18n import Catalog
from proctoring.models import IncidentKind, Severity, Stage
from reports import errors
from reports.incidents import CATEGORY_OF, Category
from reports.layout import FACE_OUTCOMES, STATUSES, VERDICTS

REPO = Path(__file__).resolve().parents[2]


def _complete(catalog: Catalog, key: str) -> bool:
    entry = catalog.messages.get(key)
    return bool(entry and entry.get("vi") and entry.get("en"))


def test_every_error_key_is_in_both_languages() -> None:
    catalog = Catalog.load()
    for _, cls in inspect.getmembers(errors, inspect.isclass):
        if issubclass(cls, errors.ReportsError):
            assert _complete(catalog, cls.key), cls.key


def test_every_literal_key_the_code_uses_exists() -> None:
    catalog = Catalog.load()
    sources = [*(REPO / "reports").glob("*.py"),
               *(REPO / "examdesk" / "commands").glob("*.py")]
    pattern = re.compile(r"""(?:words|t|text|fail)\(\s*["']((?:roster|fraud|reports|signing|"""
                         r"""verify|keys)\.[a-z_.]+)["']""")
    used = {m for path in sources for m in pattern.findall(path.read_text("utf-8"))}
    assert len(used) > 40
    missing = sorted(k for k in used if not k.endswith("_") and not _complete(catalog, k))
    assert not missing, missing


def test_every_computed_key_exists() -> None:
    catalog = Catalog.load()
    keys = [f"roster.status.{s}" for s in STATUSES] + \
        [f"roster.face.{s}" for s in FACE_OUTCOMES] + \
        [f"roster.trust.{s}" for s in VERDICTS] + \
        [f"session.stage.{s.value}" for s in Stage] + \
        [f"fraud.category.{c.value}" for c in Category] + \
        [f"fraud.severity.{s.value}" for s in Severity] + \
        [f"fraud.status.{s}" for s in ("OPEN", "CONFIRMED", "DISMISSED")] + \
        [f"verify.integrity.{s}" for s in ("intact", "changed", "appended", "unreadable",
                                           "unsigned")] + \
        [f"verify.content.{s}" for s in ("match", "mismatch", "no_facts", "not_in_database",
                                         "unchecked", "error", "invalid")] + \
        [f"verify.binding.{s}" for s in ("bound", "mismatch", "unbound")]
    assert all(_complete(catalog, k) for k in keys), [k for k in keys if not _complete(catalog, k)]
    # Every incident kind has a report category (FACE_UNSCREENABLE shares OTHER's, so the
    # mapping is checked rather than the two enums' lengths).
    assert set(CATEGORY_OF) == set(IncidentKind)
    assert set(CATEGORY_OF.values()) == set(Category)
