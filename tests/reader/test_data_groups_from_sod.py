"""Issue 11, item 2: the data groups to read and to authenticate come from EF.SOD (signed), never
from EF.COM (not signed). A clone cannot dodge chip and active authentication by leaving DG14 and
DG15 out of EF.COM, by taking them off the chip, or by refusing them; EF.COM and EF.SOD that
disagree are shown to the invigilator."""

from __future__ import annotations

import functools
from datetime import date
from pathlib import Path

import pytest

from examdesk.i18n import Catalog
from reader.keys import Can
from reader.session import CardRead, read_card
from reader.transport import LoopbackTransport
from reader.trust.policy import FINDINGS, Policy, PolicyError, TrustVerdict, Verdict
from reader.trust.report import assess
from reader.trust.results import AuthResult, CheckStatus
from reader.trust.store import TrustStore
from reader.virtual import VirtualCccd, build_lds, load_profile
from reader.virtual.pki import test_csca_pem

TODAY = date(2026, 12, 3)


@functools.cache
def store() -> TrustStore:
    return TrustStore.from_files({"csca.pem": test_csca_pem()})


def read(name: str, **kwargs: object) -> tuple[CardRead, TrustVerdict]:
    profile = load_profile(name)
    card = VirtualCccd(profile, lds=build_lds(profile))
    result = read_card(LoopbackTransport(card), [Can(card.access_data()["can"])],
                       **kwargs)  # type: ignore[arg-type]
    return result, assess(result, store(), Policy(), today=TODAY).verdict


def findings(verdict: TrustVerdict) -> dict[str, str]:
    return {f.name: f.detail for f in verdict.findings}


def test_a_genuine_card_reads_every_signed_group_but_dg3() -> None:
    result, verdict = read("nguyen-van-an")
    assert verdict.level is Verdict.TRUSTED
    assert result.com.data_groups == (1, 2, 3, 13, 14, 15)
    assert {"DG1", "DG2", "DG13", "DG14", "DG15", "EF.SOD"} <= set(result.files)
    assert "DG3" not in result.files  # behind EAC: hashed in EF.SOD, refused, and that is fine
    assert not {"lds.com_sod_mismatch", "lds.signed_group_unreadable"} & set(findings(verdict))


def test_a_clone_with_dg14_and_dg15_left_out_of_ef_com_is_still_forged() -> None:
    result, verdict = read("attack-clone-com-stripped")
    assert result.com.data_groups == (1, 2, 3, 13)
    assert {"DG14", "DG15"} <= set(result.files)  # read because EF.SOD hashes them
    assert result.chip.status is CheckStatus.FAILED
    assert result.active.status is CheckStatus.FAILED
    assert verdict.level is Verdict.FORGED
    assert findings(verdict)["lds.com_sod_mismatch"] == "EF.SOD: DG14, DG15"


@pytest.mark.parametrize("name,warning", [
    ("attack-clone-groups-hidden", "missing"),
    ("attack-clone-groups-refused", "refused"),
])
def test_a_clone_without_the_signed_key_groups_is_forged(name: str, warning: str) -> None:
    result, verdict = read(name)
    assert {f"{warning}.DG14", f"{warning}.DG15"} <= set(result.warnings)
    assert verdict.level is Verdict.FORGED
    assert findings(verdict)["lds.signed_group_unreadable"] == "DG14, DG15"
    reasons = [f.name for f in verdict.reasons]
    assert reasons == ["lds.signed_group_unreadable"]


def test_ef_com_listing_an_unsigned_group_is_shown_and_goes_to_review() -> None:
    result, verdict = read("attack-com-lists-unsigned")
    assert 11 in result.com.data_groups
    assert verdict.level is Verdict.SUSPICIOUS
    assert [(f.name, f.detail) for f in verdict.reasons] == [
        ("lds.com_sod_mismatch", "EF.COM: DG11")]


def test_without_authentication_a_group_only_ef_sod_names_is_still_read() -> None:
    result, _ = read("attack-clone-com-stripped", files=("DG1", "DG15", "EF.SOD"),
                     authenticate=False)
    assert "DG15" in result.files
    # In the caller's order: DG1, then EF.SOD, then DG15 which only EF.SOD named.
    assert list(result.files)[-3:] == ["DG1", "EF.SOD", "DG15"]


# --- the policy alone --------------------------------------------------------------------------


PASSED = AuthResult(CheckStatus.PASSED)


def decide(policy: Policy, **kwargs: object) -> TrustVerdict:
    return policy.decide(passive_status="VALID", store_has_csca=True, active=PASSED,
                         chip=PASSED, expired=False, **kwargs)  # type: ignore[arg-type]


def test_refused_eac_groups_are_not_held_against_the_card() -> None:
    signed = (1, 2, 3, 13, 14, 15)
    assert decide(Policy(), com_groups=signed, signed_groups=signed,
                  unreadable=(3,)).level is Verdict.TRUSTED
    verdict = decide(Policy(), com_groups=signed, signed_groups=signed, unreadable=(3, 15))
    assert verdict.level is Verdict.FORGED
    assert findings(verdict)["lds.signed_group_unreadable"] == "DG15"
    # A group neither signed nor listed is no concern of this finding.
    assert decide(Policy(), com_groups=signed, signed_groups=signed,
                  unreadable=(11,)).level is Verdict.TRUSTED


def test_the_eac_groups_and_the_verdicts_come_from_the_policy_file(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text('eac_protected = [3]\n[verdicts]\n"lds.com_sod_mismatch" = "FORGED"\n',
                    "utf-8")
    policy = Policy.load(path)
    assert policy.eac_protected == frozenset({3})
    signed = (1, 2, 4)
    assert decide(policy, com_groups=signed, signed_groups=signed,
                  unreadable=(4,)).level is Verdict.FORGED
    assert decide(policy, com_groups=(1, 2), signed_groups=signed).level is Verdict.FORGED
    path.write_text("eac_protected = [0]\n", "utf-8")
    with pytest.raises(PolicyError, match="eac_protected"):
        Policy.load(path)


def test_could_not_check_is_review_never_forged() -> None:
    unchecked = AuthResult(CheckStatus.UNCHECKED, "trust.aa_unchecked", "6700")
    verdict = Policy().decide(passive_status="VALID", store_has_csca=True, active=unchecked,
                              chip=unchecked, expired=False)
    assert verdict.level is Verdict.SUSPICIOUS
    assert {f.name for f in verdict.reasons} == {"active.unchecked", "chip.unchecked"}


@pytest.mark.parametrize("finding", sorted(FINDINGS))
def test_every_finding_has_vietnamese_and_english_text(finding: str) -> None:
    entry = Catalog.load().messages.get(FINDINGS[finding][1])
    assert entry is not None and entry.get("vi") and entry.get("en"), finding
