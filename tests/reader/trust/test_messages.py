"""Every message key passive authentication and the trust store can produce has vi and en text."""

from __future__ import annotations

import re
import typing
from pathlib import Path

import pytest

from examdesk.i18n import Catalog
from reader.trust import store

ROOT = Path(__file__).resolve().parents[3]
SOURCES = [ROOT / "reader" / "trust" / f"{name}.py" for name in
           ("sod", "signed_data", "signatures", "certificates", "passive", "store")]
SOURCES.append(ROOT / "examdesk" / "commands" / "trust.py")
KEY = re.compile(r"""["'](trust\.[a-z_]+(?:\.[a-z_]+)*)["']""")


def keys_in_sources() -> set[str]:
    found: set[str] = set()
    for path in SOURCES:
        found |= set(KEY.findall(path.read_text("utf-8")))
    return found


def test_sources_name_keys() -> None:
    # Guard the scan itself: if the pattern broke, the next test would pass vacuously.
    assert {"trust.hash_mismatch", "trust.untrusted_signer", "trust.revoked",
            "trust.import_unusable"} <= keys_in_sources()


@pytest.mark.parametrize("key", sorted(keys_in_sources()
                                       | {f"trust.ml_signer.{c}"
                                          for c in typing.get_args(store.SignerChain)}))
def test_key_has_both_languages(key: str) -> None:
    entry = Catalog.load().messages.get(key)
    assert entry is not None, key
    assert entry.get("vi") and entry.get("en"), key


def test_error_classes_have_texts() -> None:
    catalog = Catalog.load()
    for cls in (store.TrustImportRefused, store.TrustNameTaken, store.TrustFileUnreadable,
                store.TrustEntryNotFound):
        assert cls.key in catalog.messages
