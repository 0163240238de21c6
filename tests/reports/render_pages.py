"""Render the demo roster (signed), a driving-test roster and a fraud report as PNG pages.

    .venv/bin/python -m tests.reports.render_pages [/tmp/examdesk-report-pages]

The same builders as the tests (real photos, Vietnamese names), on a throw-away store; the
PDFs and one PNG per page land in the folder, for a person to look at.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

from proctoring.crypto import KeyStore
from proctoring.store import Store
from reports.fraud import fraud_csv, fraud_pdf
from reports.incidents import Period, collect_fraud
from reports.keys import create_centre_keys
from reports.layout import catalog_words
from reports.roster import RosterOptions, roster_pdf
from reports.signing import load_signer, sign_pdf

from . import builders
from .conftest import PASSWORD, exam_clock


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.png"):
        old.unlink()
    vi = catalog_words("vi")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["EXAMDESK_HOME"] = tmp
        store = Store.open(f"sqlite:///{tmp}/demo.db",
                           keys=KeyStore(Path(tmp) / "keys", use_keyring=False),
                           clock=exam_clock())
        try:
            exam, road = builders.fraud_scenario(store)
            keys = create_centre_keys(centre_code="HN01", centre_name=exam.centre.name,
                                      password=PASSWORD, folder=Path(tmp) / "pdf-keys")
            made = roster_pdf(store, exam.session.code, vi,
                              options=RosterOptions(room="Phòng 204, nhà A2"))
            signed = sign_pdf(made.data, load_signer(keys.signer_p12, PASSWORD), vi,
                              reason="Xác nhận danh sách dự thi", location="Hà Nội")
            files = {"roster-signed": signed,
                     "roster-driving-en": roster_pdf(store, road.session.code,
                                                     catalog_words("en"), options=RosterOptions(
                                                         lang="en")).data}
            data = collect_fraud(store, Period(date(2025, 6, 1), date(2025, 6, 30)))
            files["fraud-report"] = fraud_pdf(data, vi)
            (out / "fraud-report.csv").write_bytes(fraud_csv(data))
        finally:
            store.close()
    for name, pdf in files.items():
        path = out / f"{name}.pdf"
        path.write_bytes(pdf)
        subprocess.run(["pdftoppm", "-png", "-r", "110", str(path), str(out / name)],
                       check=True)
    for page in sorted(out.glob("*.png")):
        print(page)


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/examdesk-report-pages"))
