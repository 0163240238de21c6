"""Every reason key the check-in decision can give has words for the roster, in Vietnamese and
English (issue 13): the keys are read from the code (proctoring/checkin.py's literals, the trust
findings, the liveness modules, the face and card error classes), so a new reason without
wording — or missing from proctoring/reason_keys.py — fails here."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import biometrics
import proctoring.checkin as checkin_module
import reader
from biometrics.errors import BiometricsError, CameraUnavailable
from examdesk.i18n import Catalog
from examdesk.keyed_error import KeyedError
from proctoring.reason_keys import CONTEXT_FIELDS, REASON_KEYS, RETIRED_KEYS
from reader.errors import ReaderError, is_card_fault
from reader.trust.policy import FINDINGS

ROOT = Path(__file__).resolve().parents[2]


# --- every reason the decision can give has words -------------------------------------------

# The decision's reason arguments that are not a literal key, and where their keys come from.
_DYNAMIC = {
    "f.message": "trust findings' messages",
    "liveness.reason or 'checkin.liveness_failed'": "liveness reasons",
    "liveness.reason": "liveness reasons",
    "exc.key": "face capture errors",
    "earlier.key": "EarlierAdmission.key",
    "error.key": "card faults",
    "problem.key": "face capture errors",
    "f.reason.key": "the face rules' findings",
}
# Modules whose reasons reach the decision through a callback or a finding: every
# ``checkin.*`` literal in them is a reason key.
_RULE_MODULES = ("face_rules", "checkin_guard", "offline_rule")


def _reason_arguments() -> tuple[set[str], set[str]]:
    """The key argument of every ``verdicts.add(decision, key, …)`` and ``Reason(key, …)`` in
    proctoring/checkin.py: the literal keys, and the other expressions as written."""
    tree = ast.parse(Path(checkin_module.__file__).read_text("utf-8"))
    literals, dynamic = set(), set()
    # The collector itself (_Verdicts.add passes its argument on): not a reason's source.
    collector = {id(n) for c in ast.walk(tree) if isinstance(c, ast.ClassDef)
                 and c.name == "_Verdicts" for n in ast.walk(c)}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or id(node) in collector:
            continue
        f = node.func
        if isinstance(f, ast.Attribute) and f.attr == "add" and ast.unparse(f.value) == "verdicts":
            arg = node.args[1]
        elif isinstance(f, ast.Name) and f.id == "Reason":
            arg = node.args[0]
        else:
            continue
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            literals.add(arg.value)
        else:  # ``liveness.reason or "checkin.liveness_failed"``: the fallback is a key too
            literals |= {c.value for c in ast.walk(arg)
                         if isinstance(c, ast.Constant) and isinstance(c.value, str)}
            dynamic.add(ast.unparse(arg).replace('"', "'"))
    # EarlierAdmission.key: its literal keys.
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == "key":
            literals |= {c.value for c in ast.walk(node)
                         if isinstance(c, ast.Constant) and isinstance(c.value, str)
                         and c.value.startswith("checkin.")}
    for name in _RULE_MODULES:
        source = (ROOT / "proctoring" / f"{name}.py").read_text("utf-8")
        literals |= {c.value for c in ast.walk(ast.parse(source))
                     if isinstance(c, ast.Constant) and isinstance(c.value, str)
                     and re.fullmatch(r"checkin\.[a-z_]+", c.value)}
    return literals, dynamic


def _subclasses(cls: type[KeyedError]) -> Iterator[type[KeyedError]]:
    yield cls
    for sub in cls.__subclasses__():
        yield from _subclasses(sub)


def _import_all(package: Any) -> None:
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        importlib.import_module(info.name)


def reason_keys_in_code() -> set[str]:
    """Every reason key the decision code can store, read from the code itself."""
    literals, dynamic = _reason_arguments()
    unknown = dynamic - set(_DYNAMIC)
    assert not unknown, (f"a new kind of reason {unknown}: add its keys to "
                         "proctoring/reason_keys.py (and to this test's _DYNAMIC)")
    _import_all(biometrics)
    _import_all(reader)
    keys = set(literals)
    keys |= {message for _, message in FINDINGS.values()}
    for name in ("liveness", "continuity", "handover"):
        source = (ROOT / "biometrics" / f"{name}.py").read_text("utf-8")
        keys |= set(re.findall(r'"(face\.liveness\.[a-z_]+)"', source))
    for cls in _subclasses(BiometricsError):
        if not issubclass(cls, CameraUnavailable):  # a lost camera stores no check-in
            assert not cls.reasons, f"{cls.__name__}: a family of keys to list"
            keys.add(cls.key)
    for cls in _subclasses(ReaderError):
        # The same test the recording makes (an instance without running __init__).
        if is_card_fault(Exception.__new__(cls)):  # type: ignore[arg-type]
            assert not cls.reasons, f"{cls.__name__}: a family of keys to list"
            keys.add(cls.key)
    return keys


def test_every_reason_key_the_decision_can_give_is_worded_in_both_languages() -> None:
    in_code = reason_keys_in_code()
    assert "face.liveness.no_blink" in in_code and "checkin.no_consent" in in_code
    assert "verdict.cloned" in in_code and "card.over_limit" in in_code
    given = REASON_KEYS - RETIRED_KEYS
    assert not in_code & RETIRED_KEYS
    assert in_code == given, (f"not in proctoring/reason_keys.py: "
                              f"{sorted(in_code - given)}; listed but never given: "
                              f"{sorted(given - in_code)}")
    catalog = Catalog.load()
    for key in sorted(REASON_KEYS):
        entry = catalog.messages.get(f"roster.reason.{key}")
        assert entry is not None, f"roster.reason.{key} has no words"
        vi, en = entry.get("vi", ""), entry.get("en", "")
        assert vi.strip() and en.strip() and vi != en, key
        for text in (vi, en):
            shown = set(re.findall(r"\{(\w+)\}", text))
            assert shown <= CONTEXT_FIELDS, (key, shown - CONTEXT_FIELDS)
            assert "detail" not in shown  # the English detail is for logs
            assert not re.search(r"\b(checkin|face|card|verdict)\.[a-z_]", text), text
