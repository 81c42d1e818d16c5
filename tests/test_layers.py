"""The import picture (read from the source with ``ast``, nothing imported): one config boundary.

- Library packages take typed arguments: none imports omegaconf, hydra, the application layer
  (``jobmatch.app``), the command layer (``jobmatch.cli``) or an entry point. A command's
  ``if __name__ == "__main__":`` block is the command's, not the library's, and is not counted.
- Entry points are thin Hydra shims: they define ``main`` and nothing else.
- No import cycle among jobmatch modules (imports inside functions included).
- Nothing in the package imports the benchmarks, the experiments or the tests (``experiments/``, ``tests/``):
  they import the package, never the other way round.

Relative imports (``from ..app import x``) are resolved against the importing module, and
``importlib.import_module(NAME)`` / ``__import__(NAME)`` with a literal name count as imports; a dynamic name
is allowed only as ``f"{__name__}.{...}"`` (a submodule of the importing package).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import ROOT

PACKAGE = ROOT / "jobmatch"
LIBRARY = ("annotate", "data", "losses", "model", "modules", "privacy", "report", "retrieval", "serving", "utils")
ENTRY_POINTS = ("train", "evaluate", "mine", "curriculum", "pipeline", "audit", "export", "index", "rank",
                "annotate.__main__", "report.__main__")
FORBIDDEN = ("omegaconf", "hydra", "jobmatch.app", "jobmatch.cli", *(f"jobmatch.{name}" for name in ENTRY_POINTS))
OUTSIDE = ("experiments", "tests")  # the package imports neither, anywhere (``__main__`` blocks included)
DYNAMIC = "<dynamic import>"


def module_name(path: Path) -> str:
    """``jobmatch/data/records.py`` -> ``jobmatch.data.records``; a package's ``__init__`` is the package."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def is_main_guard(node: ast.stmt) -> bool:
    """``if __name__ == "__main__":``."""
    return (isinstance(node, ast.If) and isinstance(node.test, ast.Compare)
            and isinstance(node.test.left, ast.Name) and node.test.left.id == "__name__")


def walk_imports(tree: ast.Module, *, guards: bool = False) -> Iterator[ast.AST]:
    """Every import statement and ``import_module`` / ``__import__`` call, at any depth, except (unless
    ``guards``) those of a ``__main__`` guard."""
    stack: list[ast.AST] = [node for node in tree.body if guards or not is_main_guard(node)]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Import | ast.ImportFrom) or is_import_call(node):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def is_import_call(node: ast.AST) -> bool:
    """``importlib.import_module(...)``, ``import_module(...)`` or ``__import__(...)``."""
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    return name in ("import_module", "__import__")


def called_name(call: ast.Call, module: str) -> str:
    """The module a dynamic import names: a literal, ``f"{__name__}.{...}"`` (``module`` itself, whose
    submodules are the package's own), or :data:`DYNAMIC`."""
    arg = call.args[0] if call.args else None
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return arg.value
    if (isinstance(arg, ast.JoinedStr) and arg.values and isinstance(arg.values[0], ast.FormattedValue)
            and isinstance(arg.values[0].value, ast.Name) and arg.values[0].value.id == "__name__"):
        return module
    return DYNAMIC


def absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The absolute module of ``from [.]*pkg import ...`` inside ``module``."""
    if not node.level:
        return node.module or ""
    package = module.split(".") if is_package else module.split(".")[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def imports_in(tree: ast.Module, module: str, *, is_package: bool = False, guards: bool = False,
               known: dict[str, Path] | None = None) -> list[str]:
    """The modules ``tree`` (the source of ``module``) imports; ``from pkg import sub`` counts as ``pkg.sub``
    when ``sub`` is a module of ``known``."""
    known = MODULES if known is None else known
    names: list[str] = []
    for node in walk_imports(tree, guards=guards):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = absolute(node, module, is_package)
            names += [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            names.append(called_name(node, module))  # type: ignore[arg-type]
    return names


def imported(module: str, *, guards: bool = False) -> list[str]:
    """The modules ``module`` of the package imports."""
    path = MODULES[module]
    return imports_in(ast.parse(path.read_text()), module, is_package=path.name == "__init__.py", guards=guards)


def is_library(module: str) -> bool:
    parts = module.split(".")
    return len(parts) > 1 and parts[1] in LIBRARY and parts[-1] != "__main__"


def forbidden(name: str) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in FORBIDDEN)


@pytest.mark.parametrize("module", [m for m in MODULES if is_library(m)])
def test_library_modules_import_neither_the_config_nor_the_application(module: str) -> None:
    wrong = [name for name in imported(module) if forbidden(name)]
    assert not wrong, f"{module} imports {wrong}: pass typed arguments from jobmatch.app instead"


@pytest.mark.parametrize("module", [m for m in MODULES if is_library(m)])
def test_library_modules_import_no_dynamic_name(module: str) -> None:
    assert DYNAMIC not in imported(module), f"{module} imports a module named at run time: name it literally"


@pytest.mark.parametrize("module", list(MODULES))
def test_the_package_imports_neither_benchmarks_nor_experiments_nor_tests(module: str) -> None:
    wrong = [name for name in imported(module, guards=True)
             if any(name == top or name.startswith(top + ".") for top in OUTSIDE)]
    assert not wrong, f"{module} imports {wrong}: experiments/ and tests/ import the package, not the reverse"


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_entry_points_define_only_main(entry: str) -> None:
    tree = ast.parse(MODULES[f"jobmatch.{entry}"].read_text())
    kinds = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
    defined = [node.name for node in tree.body if isinstance(node, kinds)]
    assert defined == ["main"], f"jobmatch.{entry} defines {defined}: move the body to jobmatch.app"


def test_no_import_cycle() -> None:
    graph = {m: sorted({n for n in imported(m) if n in MODULES and n != m})
             for m in MODULES}
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        path.append(module)
        for nxt in graph[module]:
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[module] = 2
        return None

    for module in graph:
        if module not in state and (cycle := visit(module)):
            pytest.fail("import cycle: " + " -> ".join(cycle))


def test_the_checker_sees_imports() -> None:
    """A guard against a vacuous pass: the checks find the imports they look for."""
    assert "omegaconf" in imported("jobmatch.app.builders")
    assert "jobmatch.app.train_task" in imported("jobmatch.train")
    assert any(is_library(m) for m in MODULES) and len(MODULES) > 100


def test_the_checker_resolves_relative_imports_and_importlib() -> None:
    source = """
import importlib
from importlib import import_module
from . import sibling
from ..app import builders
from .. import app
from ..utils import run
importlib.import_module("experiments.benchmarks.training")
import_module("hydra")
__import__("omegaconf")
importlib.import_module(f"{__name__}.search")
importlib.import_module(name)
if __name__ == "__main__":
    from tests import helpers
"""
    known = {"jobmatch.app": Path("w"), "jobmatch.app.builders": Path("x"), "jobmatch.retrieval.sibling": Path("y")}
    found = imports_in(ast.parse(source), "jobmatch.retrieval.search", known=known)
    assert found.count("importlib") == 2 and "jobmatch.retrieval.sibling" in found
    assert {"jobmatch.app.builders", "jobmatch.app", "jobmatch.utils",
            "experiments.benchmarks.training", "hydra", "omegaconf", "jobmatch.retrieval.search", DYNAMIC} <= set(found)
    assert "tests" not in found
    assert "tests" in imports_in(ast.parse(source), "jobmatch.retrieval.search", known=known, guards=True)
    package = imports_in(ast.parse("from . import x\nfrom .a import b"), "jobmatch.retrieval", is_package=True)
    assert sorted(package) == ["jobmatch.retrieval", "jobmatch.retrieval.a"]
