"""The one-language scan over what the real command line printed in the tests' subprocesses.

The in-process scan (tests/examdesk/test_cli_messages.py) sees the catalogue's lookups of the
commands typer's runner runs. The end-to-end tests run ``examdesk`` as a process (the card
through pcscd, the check-in with the camera, sync with a district): this plugin traces those
too. Every subprocess a test starts as ``examdesk`` (the console script or ``python -m
examdesk…``) gets tests/i18n_trace on its PYTHONPATH, whose sitecustomize records each text the
catalogue gives; when the test ends, the Vietnamese ones are scanned for English, and a leak
fails the test that produced it. Costs one small file write per text; no test is run twice.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.examdesk.language import BILINGUAL_BY_DESIGN, DETAIL_IN_VIETNAMESE, english_words

TRACE_ENV = "EXAMDESK_TEST_I18N_TRACE"
SITE = Path(__file__).parent / "i18n_trace"


def is_examdesk(args: Any) -> bool:
    """``…/bin/examdesk …`` or ``python -m examdesk[.cli] …``."""
    if isinstance(args, str | bytes | os.PathLike):
        return Path(os.fsdecode(args)).name == "examdesk"
    argv = [os.fsdecode(a) if isinstance(a, bytes | os.PathLike) else str(a) for a in args]
    if not argv:
        return False
    if Path(argv[0]).name == "examdesk":
        return True
    return len(argv) >= 3 and argv[1] == "-m" and argv[2].split(".")[0] == "examdesk"


def traced_env(env: dict[str, str] | None, trace: Path) -> dict[str, str]:
    out = dict(os.environ if env is None else env)
    out["PYTHONPATH"] = os.pathsep.join(p for p in (str(SITE), out.get("PYTHONPATH")) if p)
    out[TRACE_ENV] = str(trace)
    return out


def leaks(trace: Path) -> list[tuple[str, str, list[str]]]:
    """(key, Vietnamese text, English words) of each leak the trace holds. A known detail
    (DETAIL_IN_VIETNAMESE: another system's words, a value, the listed debt) is taken out of
    its text before the scan, and so is a name given to a thing (a desk, a station); the
    rest of the sentence is still ours and still scanned."""
    found = []
    if not trace.exists():
        return found
    for line in trace.read_text("utf-8").splitlines():
        try:
            key, lang, text, detail, *rest = json.loads(line)
        except ValueError:
            continue  # a process killed while writing its last line
        # The names a text gives a thing (a desk, a station) came later: a line without them
        # is still scanned, never skipped as if it were cut.
        names = rest[0] if rest and isinstance(rest[0], dict) else {}
        if lang != "vi" or key in BILINGUAL_BY_DESIGN:
            continue
        if key in DETAIL_IN_VIETNAMESE and detail:
            text = text.replace(detail, " ")
        for name in names.values():  # a desk's or a station's name, as its owner gave it
            if name:
                text = text.replace(name, " ")
        words = english_words(text)
        if words:
            found.append((key, text, words))
    return found


class Traced:
    """The trace of one test's ``examdesk`` subprocesses (a file made on first use)."""

    def __init__(self) -> None:
        self.path: Path | None = None

    def file(self) -> Path:
        if self.path is None:
            fd, name = tempfile.mkstemp(prefix="examdesk-i18n-", suffix=".jsonl")
            os.close(fd)
            self.path = Path(name)
        return self.path


@pytest.fixture(autouse=True)
def cli_subprocess_language(monkeypatch: pytest.MonkeyPatch) -> Iterator[Traced]:
    traced = Traced()
    base = subprocess.Popen

    class TracedPopen(base):  # type: ignore[valid-type, misc]
        def __init__(self, args: Sequence[Any] | str, *rest: Any, **kwargs: Any) -> None:
            if is_examdesk(args) and not rest:
                kwargs["env"] = traced_env(kwargs.get("env"), traced.file())
            super().__init__(args, *rest, **kwargs)

    monkeypatch.setattr(subprocess, "Popen", TracedPopen)
    yield traced
    if traced.path is not None:
        found = leaks(traced.path)
        traced.path.unlink(missing_ok=True)
        if found:
            pytest.fail("English inside the Vietnamese text the command printed: "
                        + "; ".join(f"{k}: {t!r} {w}" for k, t, w in found[:5]),
                        pytrace=False)
