"""The centre's check-in rules from the settings file: every bad value is refused with a
bilingual message naming the rule and the allowed values, and the desk and the CLI refuse to
start with it (the decisions each rule changes: test_checkin_service.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from biometrics.decision import FaceOutcome
from examdesk.app import AppOptions, start_services
from examdesk.cli import app
from examdesk.i18n import Catalog
from proctoring.models import Decision
from proctoring.policy import CheckInRules, RuleInvalid

BAD: list[tuple[dict[str, Any], str, str]] = [
    ({"require_liveness": "yes"}, "require_liveness", "true, false"),
    ({"require_liveness": 1}, "require_liveness", "true, false"),
    ({"reject_expired_card": None}, "reject_expired_card", "true, false"),
    ({"liveness_frames": 0}, "liveness_frames", "10–600"),
    ({"liveness_frames": True}, "liveness_frames", "10–600"),
    ({"capture_frames": 10_000}, "capture_frames", "1–600"),
    ({"capture_frames": 2.5}, "capture_frames", "1–600"),
    ({"evidence_width": "640"}, "evidence_width", "160–1920"),
    ({"suspicious_card": "ADMIT"}, "suspicious_card", "REVIEW, REJECT"),
    ({"liveness_failed": "maybe"}, "liveness_failed", "REVIEW, REJECT"),
    ({"face_review": 2}, "face_review", "REVIEW, REJECT"),
    ({"face_no_match": "ADMIT"}, "face_no_match", "REVIEW, REJECT"),
    ({"liveness_challenges": 4}, "liveness_challenges", "1–3"),
    ({"liveness_attempts": 0}, "liveness_attempts", "1–5"),
    ({"liveness_attempts": True}, "liveness_attempts", "1–5"),
]


def test_defaults_are_todays_behaviour() -> None:
    rules = CheckInRules.from_dict({})
    assert rules == CheckInRules() == CheckInRules.from_dict(None)
    assert (rules.require_liveness, rules.liveness_frames, rules.capture_frames,
            rules.reject_expired_card, rules.suspicious_card, rules.evidence_width) == (
        True, 45, 90, True, Decision.REVIEW, 640)
    assert [rules.face_decision(o) for o in FaceOutcome] == [
        Decision.ADMIT, Decision.REVIEW, Decision.REJECT]
    assert CheckInRules.from_dict(rules.to_dict()) == rules
    assert json.loads(json.dumps(rules.to_dict()))["face_no_match"] == "REJECT"


@pytest.mark.parametrize(("section", "rule", "allowed"), BAD)
def test_a_bad_value_names_the_rule_and_the_allowed_values(
        section: dict[str, Any], rule: str, allowed: str) -> None:
    with pytest.raises(RuleInvalid) as caught:
        CheckInRules.from_dict(section)
    err = caught.value
    assert (err.context["rule"], err.context["allowed"]) == (rule, allowed)
    catalog = Catalog.load()
    vi = catalog.text(err.key, "vi", detail=err.detail, **err.context)
    en = catalog.text(err.key, "en", detail=err.detail, **err.context)
    for text in (vi, en):
        assert rule in text and allowed in text and str(err.context["value"]) in text
        assert "?" not in text.replace("{", "")  # every placeholder filled
    assert "không nhận giá trị" in vi and "cannot be" in en


def test_an_unknown_rule_is_refused_not_ignored() -> None:
    # A typo would otherwise leave the stricter rule the centre meant silently unset.
    with pytest.raises(RuleInvalid) as caught:
        CheckInRules.from_dict({"suspicous_card": "REJECT"})
    assert caught.value.context["rule"] == "suspicous_card"
    assert "suspicious_card" in str(caught.value.context["allowed"])


def test_rules_built_in_code_are_checked_too() -> None:
    with pytest.raises(RuleInvalid):
        CheckInRules(suspicious_card=Decision.ADMIT)


def _bad_settings(home: Path) -> None:
    (home / "config").mkdir(parents=True)
    (home / "config" / "settings.json").write_text(
        json.dumps({"checkin": {"suspicious_card": "ADMIT"}}), "utf-8")


def test_the_cli_refuses_to_start_with_a_bad_rule(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    _bad_settings(tmp_path)
    monkeypatch.setenv("EXAMDESK_HOME", str(tmp_path))
    # A database that cannot be opened: the rules are checked before it is tried.
    monkeypatch.setenv("EXAMDESK_DB_URL", "postgresql://nobody@127.0.0.1:1/none")
    result = CliRunner().invoke(app, ["checkin", "--session", "S1", "--camera", "0", "--json"])
    assert result.exit_code == 2
    error = json.loads(result.stdout)["error"]
    assert error["key"] == "policy.rule_invalid"
    assert "suspicious_card" in error["vi"] and "REVIEW, REJECT" in error["vi"]
    assert "suspicious_card" in error["en"] and "REVIEW, REJECT" in error["en"]
    assert "Tệp cấu hình" in result.stderr and "settings file" in result.stderr


def test_the_desk_refuses_to_start_with_a_bad_rule(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    _bad_settings(tmp_path)
    monkeypatch.setenv("EXAMDESK_HOME", str(tmp_path))
    monkeypatch.setenv("EXAMDESK_DB_URL", "postgresql://nobody@127.0.0.1:1/none")
    with pytest.raises(RuleInvalid) as caught:
        start_services(AppOptions(), "app:startup")
    assert caught.value.context["rule"] == "suspicious_card"


def test_every_rule_has_a_label_in_both_languages() -> None:
    catalog = Catalog.load()
    keys = [f"app.settings.rule.{name}" for name in CheckInRules().to_dict()]
    keys += [f"app.settings.rule_choice.{d.value}" for d in (Decision.REVIEW, Decision.REJECT)]
    for key in keys:
        entry = catalog.messages.get(key)
        assert entry is not None and entry.get("vi") and entry.get("en"), key


def test_the_trust_verdict_is_an_enum_level_and_maps_through_the_rules() -> None:
    import dataclasses as dc

    from reader.trust.policy import TrustVerdict, Verdict

    # A report's verdict is report.verdict.level: report.verdict.verdict no longer exists.
    assert [f.name for f in dc.fields(TrustVerdict)] == ["level", "findings"]
    assert not hasattr(TrustVerdict((Verdict.TRUSTED), ()), "verdict")
    rules = CheckInRules()
    assert [rules.card_decision(v) for v in Verdict] == [
        Decision.ADMIT, Decision.REVIEW, Decision.REJECT]
    strict = CheckInRules.from_dict({"suspicious_card": "REJECT"})
    assert strict.card_decision(Verdict.SUSPICIOUS) is Decision.REJECT
    assert strict.card_decision(Verdict.FORGED) is Decision.REJECT  # never up to a rule
    assert rules.expired_card_decision() is Decision.REJECT
    assert CheckInRules(reject_expired_card=False).expired_card_decision() is Decision.REVIEW


def test_roster_status_keeps_the_stored_words() -> None:
    from proctoring.models import RosterStatus

    assert [s.value for s in RosterStatus] == ["ADMIT", "REJECT", "REVIEW", "ABSENT"]
    assert RosterStatus.of(None) is RosterStatus.ABSENT
    assert [RosterStatus.of(d) for d in Decision] == [
        RosterStatus.ADMIT, RosterStatus.REJECT, RosterStatus.REVIEW]
    assert FaceOutcome.NO_MATCH.value == "no_match"  # what check-ins store, unchanged
