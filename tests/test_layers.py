"""The import picture (read from the source with ``ast``, nothing imported): one config boundary.

- Library packages take typed arguments: none imports omegaconf, hydra, the application layer
  (``jobmatch.app``) or an entry point. A command's ``if __name__ == "__main__":`` block is the
  command's, not the library's, and is not counted.
- Entry points are thin Hydra shims: they define ``main`` and nothing else.
- No import cycle among jobmatch modules (imports inside functions included).
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
FORBIDDEN = ("omegaconf", "hydra", "jobmatch.app", *(f"jobmatch.{name}" for name in ENTRY_POINTS))


def module_name(path: Path) -> str:
    """``jobmatch/data/records.py`` -> ``jobmatch.data.records``; a package's ``__init__`` is the package."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def is_main_guard(node: ast.stmt) -> bool:
    """``if __name__ == "__main__":``."""
    return (isinstance(node, ast.If) and isinstance(node.test, ast.Compare)
            and isinstance(node.test.left, ast.Name) and node.test.left.id == "__name__")


def walk_imports(tree: ast.Module) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement, at any depth, except those of a ``__main__`` guard."""
    stack: list[ast.AST] = [node for node in tree.body if not is_main_guard(node)]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def imported(module: str) -> list[str]:
    """The modules ``module`` imports (``from pkg import sub`` counts as ``pkg.sub`` when ``sub`` is a module)."""
    tree = ast.parse(MODULES[module].read_text())
    names: list[str] = []
    for node in walk_imports(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif node.module and node.level == 0:
            names += [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in MODULES else node.module
                      for a in node.names]
    return names


def is_library(module: str) -> bool:
    parts = module.split(".")
    return len(parts) > 1 and parts[1] in LIBRARY and parts[-1] != "__main__"


def forbidden(name: str) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in FORBIDDEN)


@pytest.mark.parametrize("module", [m for m in MODULES if is_library(m)])
def test_library_modules_import_neither_the_config_nor_the_application(module: str) -> None:
    wrong = [name for name in imported(module) if forbidden(name)]
    assert not wrong, f"{module} imports {wrong}: pass typed arguments from jobmatch.app instead"


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
