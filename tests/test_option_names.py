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


def test_the_scan_finds_a_config_key() -> None:
    """The pattern itself: a config key in a raise is found, an argument name or a module path is not."""
    assert CONFIG_KEY.search("pass stage.beta=2") and CONFIG_KEY.search("set data.corpus_file")
    assert not CONFIG_KEY.search("{beta}=0: must be > 0") and not CONFIG_KEY.search("jobmatch.data.synthetic")


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(ROOT)) for p in FILES])
def test_no_library_error_names_a_config_key(path: Path) -> None:
    found = [f"{path.relative_to(ROOT)}:{line}: {text!r}" for line, text, _ in raised_texts(path)
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
