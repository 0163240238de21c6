"""Signing must not depend on which module used asn1crypto's CMS attribute names first."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from reports.asn1names import refresh_oid_names


def test_names_registered_after_the_chip_code_ran_are_usable() -> None:
    # A fresh interpreter: the chip code (SOD parsing) names a CMS attribute before pyHanko and
    # asn1crypto.tsp are imported, which is the order that broke signing on a clean CI run.
    script = textwrap.dedent("""
        from asn1crypto import cms
        cms.CMSAttributeType('message_digest')
        import reports.signing  # noqa: F401
        from reports.asn1names import refresh_oid_names
        assert refresh_oid_names() > 0
        assert cms.CMSAttributeType('signing_certificate_v2').dotted == '1.2.840.113549.1.9.16.2.47'
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr


def test_refreshing_twice_adds_nothing_more() -> None:
    refresh_oid_names()
    assert refresh_oid_names() == 0
