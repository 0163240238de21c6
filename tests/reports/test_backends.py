"""The same roster and fraud report on SQLite and PostgreSQL: the content hash is computed from
what each database gives back (times, floats, text), so both must give the same facts."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from proctoring.crypto import KeyStore
from proctoring.store import Store
from reports.incidents import Category, Period, collect_fraud
from reports.keys import CreatedKeys
from reports.layout import Words
from reports.roster import roster_pdf
from reports.signing import load_signer, sign_pdf
from reports.verify import ContentStatus, load_trust_roots, verify_roster
from tests.proctoring.conftest import backend, db_url, postgres_admin_url  # noqa: F401

from . import builders
from .conftest import PASSWORD, exam_clock


def test_roster_and_fraud_report_on_each_database(db_url: str, tmp_path: Path,  # noqa: F811
                                                  centre_keys: CreatedKeys, vi: Words) -> None:
    store = Store.open(db_url, keys=KeyStore(tmp_path / "k", use_keyring=False),
                       clock=exam_clock())
    try:
        exam, _ = builders.fraud_scenario(store)
        made = roster_pdf(store, exam.session.code, vi)
        signed = sign_pdf(made.data, load_signer(centre_keys.signer_p12, PASSWORD), vi)
        roots = load_trust_roots(key_folder=centre_keys.folder, trust_folder=tmp_path / "t")
        result = verify_roster(signed, roots=roots, store=store)
        data = collect_fraud(store, Period(date(2025, 6, 1), date(2025, 6, 30)))
    finally:
        store.close()
    assert result.ok and result.content.status is ContentStatus.MATCH
    assert len(data.findings) == 7
    assert data.by_category()[Category.FACE_MISMATCH] == 2
