"""Issue 12, item 2: no function in reader/ is over 75 lines (read_card was 123), so each one
stays readable and one job; this keeps it true."""

from __future__ import annotations

import ast
from pathlib import Path

import reader

MAX_LINES = 75


def long_functions(root: Path, limit: int = MAX_LINES) -> list[str]:
    """Functions (and methods) whose ``def`` through the end of the body spans over ``limit``
    lines, as ``path:line name (n lines)``."""
    found = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                end = node.end_lineno or node.lineno
                lines = end - node.lineno + 1
                if lines > limit:
                    found.append(f"{path.relative_to(root.parent)}:{node.lineno} {node.name} "
                                 f"({lines} lines)")
    return found


def test_no_function_in_reader_is_over_75_lines() -> None:
    assert long_functions(Path(reader.__file__).parent) == []


def test_the_count_runs_from_def_to_the_end_of_the_body(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    body = "\n".join(f"    x{i} = {i}" for i in range(74))
    (package / "a.py").write_text(f"@decorated\ndef short():\n{body}\n\n\n"
                                  f"def long():\n{body}\n    x = 1\n", encoding="utf-8")
    assert long_functions(package) == ["pkg/a.py:79 long (76 lines)"]
