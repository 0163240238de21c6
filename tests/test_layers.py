"""The layers of the design card hold: the lower packages never load the app, and the
foundation (paths, i18n lookup, time zone, the keyed-error base) loads nothing of the project.

Imports run in a fresh interpreter: this test process has already imported whatever other tests
needed, so its ``sys.modules`` proves nothing.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

LOWER = ("reader", "biometrics", "proctoring", "reports")
FOUNDATION = ("examdesk", "examdesk.paths", "examdesk.i18n", "examdesk.i18n.words",
              "examdesk.timezone", "examdesk.keyed_error")
APP = ("examdesk.app", "examdesk.views", "examdesk.commands", "examdesk.cli")

_LOADED = """
import importlib, json, pkgutil, sys
for name in {names!r}:
    module = importlib.import_module(name)
    if {walk!r} and hasattr(module, "__path__"):
        for info in pkgutil.walk_packages(module.__path__, name + "."):
            if ".migrations" not in info.name:  # Alembic's scripts run only inside alembic
                importlib.import_module(info.name)
print(json.dumps(sorted(sys.modules)))
"""


def _loaded(*names: str, walk: bool) -> set[str]:
    """The modules a fresh interpreter holds after importing ``names`` (and, with ``walk``, every
    module of their packages)."""
    code = _LOADED.format(names=names, walk=walk)
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, check=False, timeout=300)
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.splitlines()[-1]))


def _under(modules: set[str], roots: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == r or m.startswith(r + ".") for r in roots))


def test_lower_packages_and_all_their_modules_load_nothing_of_the_app() -> None:
    loaded = _loaded(*LOWER, walk=True)
    assert "reader.session" in loaded and "reports.roster" in loaded  # the walk did walk
    assert _under(loaded, APP) == []
    # What they take from examdesk/ is the foundation, nothing else of it.
    assert set(_under(loaded, ("examdesk",))) <= set(FOUNDATION)


@pytest.mark.parametrize("name", FOUNDATION[1:])
def test_each_foundation_module_loads_only_the_foundation(name: str) -> None:
    loaded = _loaded(name, walk=False)
    assert set(_under(loaded, ("examdesk",))) <= set(FOUNDATION)
    assert _under(loaded, LOWER) == []


def _deferred_project_imports(path: Path) -> list[str]:
    """``import``s of examdesk inside a function: they hide a layer's dependencies from a reader
    of the module's head and from this test's fresh-interpreter check."""
    found = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for inner in ast.walk(node):
                names = ([inner.module or ""] if isinstance(inner, ast.ImportFrom) else
                         [a.name for a in inner.names] if isinstance(inner, ast.Import) else [])
                if any(n == "examdesk" or n.startswith("examdesk.") for n in names):
                    found.append(f"{path.relative_to(REPO)}:{inner.lineno}")
    return found


def test_lower_packages_import_the_foundation_at_the_top() -> None:
    found = [hit for package in LOWER for path in sorted((REPO / package).rglob("*.py"))
             for hit in _deferred_project_imports(path)]
    assert found == []


def test_the_four_packages_errors_share_the_keyed_error_base() -> None:
    from biometrics.errors import BiometricsError
    from examdesk.i18n import Catalog
    from examdesk.keyed_error import KeyedError
    from proctoring.errors import ProctoringError
    from reader.errors import ReaderError, WrongCardKey
    from reports.errors import ReportsError

    for base in (ReaderError, BiometricsError, ProctoringError, ReportsError):
        assert issubclass(base, KeyedError)
    # Key, detail and context as before; the words come from the catalogue, Vietnamese first.
    exc = WrongCardKey(0x6300, attempt=2)
    assert (exc.key, exc.detail, exc.context) == ("card.wrong_key", "status word 6300",
                                                  {"sw": "6300", "attempt": 2})
    catalog = Catalog.load()
    assert exc.both(catalog) == catalog.both("card.wrong_key", sw="6300", attempt=2)
    assert exc.text(catalog, "en") == catalog.text("card.wrong_key", "en", sw="6300", attempt=2)
    assert exc.text(catalog, "en") != exc.text(catalog, "vi")


def _relative_imports(path: Path) -> set[str]:
    """The sibling modules ``path`` imports (``from .x import``, at any depth of the code)."""
    return {node.module or "" for node in ast.walk(ast.parse(path.read_text("utf-8")))
            if isinstance(node, ast.ImportFrom) and node.level == 1}


def test_district_and_sync_do_not_import_each_other() -> None:
    # Both build on proctoring.central (the address, the engine, the driver errors); a cycle
    # only worked through a deferred import and broke whoever imported sync first.
    assert "district" not in _relative_imports(REPO / "proctoring" / "sync.py")
    assert "sync" not in _relative_imports(REPO / "proctoring" / "district.py")


def _project_imports(path: Path, *, at_run_time: bool) -> list[tuple[int, str]]:
    """The examdesk modules ``path`` imports (absolute, or relative inside examdesk/), at any
    depth of the code; with ``at_run_time``, not those under ``if TYPE_CHECKING:``."""
    tree = ast.parse(path.read_text("utf-8"))
    package = ".".join(path.relative_to(REPO).with_suffix("").parts[:-1])
    hidden: set[int] = set()
    if at_run_time:
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                hidden |= {id(inner) for stmt in node.body for inner in ast.walk(stmt)}
    found = []
    for node in ast.walk(tree):
        if id(node) in hidden:
            continue
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(p for p in (base, node.module or "") if p)
            # ``from . import x`` / ``from examdesk import app``: the names may be modules.
            found += [(node.lineno, f"{module}.{a.name}") for a in node.names]
            found.append((node.lineno, module))
    return found


def _hits(paths: list[Path], roots: tuple[str, ...], *, at_run_time: bool) -> list[str]:
    return sorted({f"{p.relative_to(REPO)}:{line} {name}" for p in paths
                   for line, name in _project_imports(p, at_run_time=at_run_time)
                   if any(name == r or name.startswith(r + ".") for r in roots)})


VIEWS = sorted((REPO / "examdesk" / "views").rglob("*.py"))
APP_PY = REPO / "examdesk" / "app.py"


def test_the_desk_does_not_import_the_command_line() -> None:
    # The views and the window call the layers below; what the CLI and the desk share lives
    # there (reader.keys, biometrics.camera, the time zone, …), never in examdesk/commands/.
    assert _hits([*VIEWS, APP_PY], ("examdesk.commands",), at_run_time=False) == []


def test_views_do_not_import_the_window_at_run_time() -> None:
    # One way: app.py builds the window from the views; a view names the window only for the
    # type checker, and takes the operator, places, settings and services from views/context.py.
    assert _hits(VIEWS, ("examdesk.app",), at_run_time=True) == []
    assert _hits([APP_PY], ("examdesk.views",), at_run_time=True)  # the scan sees app → views


SERVICES = sorted((REPO / "examdesk" / "services").rglob("*.py"))
UI_LIBRARIES = ("typer", "rich", "click", "tkinter", "customtkinter", "PIL.ImageTk")


def _third_party_imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level:
            found += [(node.lineno, node.module or "")]
            found += [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
    return found


def test_the_use_cases_know_neither_the_command_line_nor_the_desk() -> None:
    # examdesk/services is what both call: it takes typed inputs and returns values or typed
    # errors; rendering (typer/rich, Tk) and the two front ends stay above it.
    assert SERVICES, "examdesk/services holds the use cases"
    assert _hits(SERVICES, APP, at_run_time=False) == []
    ui = sorted(f"{p.relative_to(REPO)}:{line} {name}" for p in SERVICES
                for line, name in _third_party_imports(p)
                if any(name == r or name.startswith(r + ".") for r in UI_LIBRARIES))
    assert ui == []


def test_importing_the_use_cases_loads_no_front_end() -> None:
    loaded = _loaded("examdesk.services", walk=True)
    assert "examdesk.services.card" in loaded  # the walk did walk
    assert _under(loaded, APP) == []
    assert _under(loaded, UI_LIBRARIES) == []
