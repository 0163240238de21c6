"""The message catalogue: every error key has both languages, placeholders never crash."""

from __future__ import annotations

import inspect

from examdesk.i18n import Catalog
from reader import errors


def test_every_reader_error_key_has_vietnamese_and_english() -> None:
    catalog = Catalog.load()
    for _, cls in inspect.getmembers(errors, inspect.isclass):
        if issubclass(cls, errors.ReaderError):
            entry = catalog.messages.get(cls.key)
            assert entry is not None, cls.key
            assert entry.get("vi") and entry.get("en"), cls.key


def test_missing_placeholders_do_not_crash() -> None:
    catalog = Catalog.load()
    assert "?" in catalog.text("card.file_not_found", "en")
    assert "DG2" in catalog.text("card.file_not_found", "vi", file="DG2")


def test_unknown_key_falls_back_to_its_family() -> None:
    catalog = Catalog.load()
    assert catalog.text("card.something_new", "en") == catalog.text("card.error", "en")
