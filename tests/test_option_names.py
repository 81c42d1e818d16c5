"""Only the application knows config keys: no module below ``jobmatch/app`` spells one (``stage.beta``,
``data.corpus_file``) in an error it raises. A library error names the argument, as an
:class:`~jobmatch.errors.OptionError` template (``{corpus_file}``), and the application names the option that
sets it (``data.corpus_file``), in ``validate_config`` and in the one line a command prints."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobmatch.app.schema import GROUPS
from jobmatch.app.schema.names import option_message, option_name
from jobmatch.errors import OptionError
from tests.helpers import ROOT

LIBRARY = ("annotate", "data", "losses", "model", "modules", "retrieval", "serving")
NODES = sorted({node for group in GROUPS for node in group.nodes} | {"trainer2", "pairs"})
CONFIG_KEY = re.compile(rf"(?<![\w.])({'|'.join(NODES)})\.[a-z_][a-z0-9_]*\b")
PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
FILES = sorted(path for name in LIBRARY for path in (ROOT / "jobmatch" / name).rglob("*.py"))
LOG_METHODS = {"debug", "info", "warning", "error", "exception"}
# Text that names an attribute of another library's object, not an option (SentenceTransformer.max_seq_length).
NOT_OPTIONS = {("st_files.py", "README_TEMPLATE")}


def message_texts(path: Path) -> Iterator[tuple[int, str]]:
    """(line, text) of every string literal of ``path`` that can reach a user as an error or a message built
    for one: all but docstrings, log calls (the log names the run's own settings) and :data:`NOT_OPTIONS`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        first = body[0] if isinstance(body, list) and body else None
        if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
            skip.add(id(first.value))  # a docstring
        is_log = isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in LOG_METHODS
        named = isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and (path.name, t.id) in NOT_OPTIONS
                                                     for t in node.targets)
        if is_log or named:
            skip.update(id(sub) for sub in ast.walk(node))
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            yield node.lineno, node.value


def raised_texts(path: Path) -> Iterator[tuple[int, str, str]]:
    """(line, text, exception name) of every string a ``raise`` of ``path`` builds its error from: its literals
    (f-string parts included) and the module-level string constants it names."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    constants = {target.id: node.value.value for node in tree.body if isinstance(node, ast.Assign)
                 and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
                 for target in node.targets if isinstance(target, ast.Name)}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Raise) or node.exc is None:
            continue
        call = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
        kind = call.id if isinstance(call, ast.Name) else getattr(call, "attr", "")
        for sub in ast.walk(node.exc):
            if isinstance(sub, ast.Constant) and isinstance(sub.value, str):
                yield node.lineno, sub.value, kind
            elif isinstance(sub, ast.Name) and sub.id in constants:
                yield node.lineno, constants[sub.id], kind


def test_the_scan_finds_a_config_key(tmp_path: Path) -> None:
    """The scan itself: a config key in a message built for an error is found (in a raise or in a list of
    problems), an argument name, a module path, a docstring or a log call is not."""
    assert CONFIG_KEY.search("pass stage.beta=2") and CONFIG_KEY.search("set data.corpus_file")
    assert not CONFIG_KEY.search("{beta}=0: must be > 0") and not CONFIG_KEY.search("jobmatch.data.synthetic")
    module = tmp_path / "m.py"
    module.write_text('def f(log, beta):\n    """Reads stage.beta."""\n    log.info("stage.beta=%s", beta)\n'
                      '    problems = [f"stage.beta={beta} must be > 0"]\n    raise ValueError(problems[0])\n')
    assert [line for line, text in message_texts(module) if CONFIG_KEY.search(text)] == [4]


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(ROOT)) for p in FILES])
def test_no_library_error_names_a_config_key(path: Path) -> None:
    found = [f"{path.relative_to(ROOT)}:{line}: {text[:80]!r}" for line, text in message_texts(path)
             if CONFIG_KEY.search(text)]
    assert found == [], "name the argument instead ({name} in an OptionError): " + "; ".join(found)


def test_every_argument_a_library_error_names_maps_to_an_option() -> None:
    """Each ``{argument}`` of an OptionError raised below the application is an option the application knows."""
    arguments = {name for path in FILES for _, text, kind in raised_texts(path)
                 if kind in ("OptionError", "MissingApiKeyError") for name in PLACEHOLDER.findall(text)}
    assert arguments, "no OptionError found: the scan is broken"
    unmapped = sorted(name for name in arguments if "." not in option_name(name))
    assert unmapped == []


def test_an_option_error_reads_as_arguments_in_the_library_and_as_options_in_the_app() -> None:
    error = OptionError("{corpus_file} is not set; set {corpus_file} or {lora_enabled}=false")
    assert str(error) == "corpus_file is not set; set corpus_file or lora_enabled=false"
    assert error.arguments() == ["corpus_file", "lora_enabled"]
    assert option_message(error) == "data.corpus_file is not set; set data.corpus_file or model.lora.enabled=false"
    assert option_message(OptionError("{beta}=0: out of range"), "stage2") == "stage2.beta=0: out of range"
