"""Only the application knows config keys: no library module (``jobmatch/`` outside ``app/`` and ``cli/``) spells
one (``stage.beta``, ``data.corpus_file``) in an error, a warning or a fix hint. A library message names the
argument, as an :class:`~jobmatch.errors.OptionError` (or, for a warning, :class:`~jobmatch.errors.OptionText`)
template (``{corpus_file}``), and the application names the option that sets it (``data.corpus_file``): in
``validate_config``, in the one line a command prints, and in the warnings a task logs."""

from __future__ import annotations

import ast
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from jobmatch.app.run_dir import task_wrapper
from jobmatch.app.schema import GROUPS
from jobmatch.app.schema.names import named_options_in_logs, option_message, option_name
from jobmatch.errors import OptionError, OptionText
from tests.helpers import ROOT

NODES = sorted({node for group in GROUPS for node in group.nodes} | {"trainer2", "pairs"})
CONFIG_KEY = re.compile(rf"(?<![\w.])({'|'.join(NODES)})\.[a-z_][a-z0-9_]*\b")
PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
PACKAGE = ROOT / "jobmatch"
APPLICATION = (PACKAGE / "app", PACKAGE / "cli")  # the layers that know config keys
FILES = sorted(path for path in PACKAGE.rglob("*.py") if not any(path.is_relative_to(app) for app in APPLICATION))
# Text that names an attribute of another library's object, not an option (SentenceTransformer.max_seq_length).
NOT_OPTIONS = {("st_files.py", "README_TEMPLATE")}


def message_texts(path: Path) -> Iterator[tuple[int, str]]:
    """(line, text) of every string literal of ``path`` that can reach a user: an error, a logged warning, a fix
    hint or a message built for one; all but docstrings and :data:`NOT_OPTIONS`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        first = body[0] if isinstance(body, list) and body else None
        if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
            skip.add(id(first.value))  # a docstring
        named = isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and (path.name, t.id) in NOT_OPTIONS
                                                     for t in node.targets)
        if named:
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


def option_texts(path: Path) -> Iterator[str]:
    """The literal parts of every :class:`OptionText` template that ``path`` builds (a warning's message)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) == "OptionText":
            yield from (sub.value for sub in ast.walk(node) if isinstance(sub, ast.Constant)
                        and isinstance(sub.value, str))


def test_the_scan_finds_a_config_key(tmp_path: Path) -> None:
    """The scan itself: a config key in a message is found (in a raise, a list of problems, a log call or a fix
    hint), an argument name, a module path or a docstring is not."""
    assert CONFIG_KEY.search("pass stage.beta=2") and CONFIG_KEY.search("set data.corpus_file")
    assert not CONFIG_KEY.search("{beta}=0: must be > 0") and not CONFIG_KEY.search("jobmatch.data.synthetic")
    module = tmp_path / "m.py"
    module.write_text('def f(log, beta):\n    """Reads stage.beta."""\n    log.warning("stage.beta=%s", beta)\n'
                      '    problems = [f"stage.beta={beta} must be > 0"]\n    raise ValueError(problems[0])\n'
                      'FIX = "set paths.output_dir"\n')
    assert sorted(line for line, text in message_texts(module) if CONFIG_KEY.search(text)) == [3, 4, 6]


def test_the_scan_covers_the_library_and_not_the_application() -> None:
    scanned = {path.relative_to(PACKAGE).parts[0] for path in FILES}
    assert {"report", "utils", "privacy", "model", "modules", "retrieval", "errors.py"} <= scanned
    assert not scanned & {"app", "cli"}


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(ROOT)) for p in FILES])
def test_no_library_message_names_a_config_key(path: Path) -> None:
    found = [f"{path.relative_to(ROOT)}:{line}: {text[:80]!r}" for line, text in message_texts(path)
             if CONFIG_KEY.search(text)]
    assert found == [], ("name the argument instead ({name} in an OptionError, or an OptionText for a warning): "
                         + "; ".join(found))


def test_every_argument_a_library_message_names_maps_to_an_option() -> None:
    """Each ``{argument}`` of an OptionError raised, or an OptionText logged, below the application is an option
    the application knows; so is each model-config key a stage-2 warning names (``{pooling}``)."""
    from jobmatch.model.checkpoint import ARCHITECTURE_KEYS

    errors = {name for path in FILES for _, text, kind in raised_texts(path)
              if kind in ("OptionError", "MissingApiKeyError") for name in PLACEHOLDER.findall(text)}
    warnings = {name for path in FILES for text in option_texts(path) for name in PLACEHOLDER.findall(text)}
    assert errors and {"dtype", "init_ckpt", "test_file"} <= warnings, "no OptionError/OptionText found: scan broken"
    unmapped = sorted(name for name in errors | warnings if "." not in option_name(name))
    assert unmapped == []
    assert [option_name(key) for key in ARCHITECTURE_KEYS] == [f"model.{key}" for key in ARCHITECTURE_KEYS]


def test_an_option_error_reads_as_arguments_in_the_library_and_as_options_in_the_app() -> None:
    error = OptionError("{corpus_file} is not set; set {corpus_file} or {lora_enabled}=false")
    assert str(error) == "corpus_file is not set; set corpus_file or lora_enabled=false"
    assert error.arguments() == ["corpus_file", "lora_enabled"]
    assert option_message(error) == "data.corpus_file is not set; set data.corpus_file or model.lora.enabled=false"
    assert option_message(OptionError("{beta}=0: out of range"), "stage2") == "stage2.beta=0: out of range"


# --- the application names the options of the library's warnings and hints ------------------------------------


class Stop(Exception):
    """Ends a library call right after the warning under test (nothing is loaded or trained)."""


def warn_bf16_full_fine_tuning(monkeypatch: pytest.MonkeyPatch) -> None:
    from jobmatch.model.encoder import keep_fp32_masters

    encoder = torch.nn.Linear(2, 2).to(torch.bfloat16)  # stands for a TextEncoder: parameters, cfg, float()
    encoder.cfg = {"dtype": "bfloat16"}
    assert keep_fp32_masters(encoder)  # type: ignore[arg-type]


def warn_architecture_change(monkeypatch: pytest.MonkeyPatch) -> None:
    from jobmatch.modules.rankpo import stage2_model_config

    stage2_model_config("stage1.ckpt", {"pooling": "cls", "normalize": True},
                        stage1={"pooling": "mean", "normalize": True})


def warn_no_init_ckpt(monkeypatch: pytest.MonkeyPatch) -> None:
    import jobmatch.modules.rankpo as rankpo

    monkeypatch.setattr(rankpo, "stage2_encoder", lambda *_: (_ for _ in ()).throw(Stop()))
    with pytest.raises(Stop):
        rankpo.RankPOModule.from_stage1(None, {"name_or_path": "base"})


def warn_no_test_split(monkeypatch: pytest.MonkeyPatch) -> None:
    import jobmatch.retrieval.preference_eval as preference_eval

    monkeypatch.setattr(preference_eval, "offline_judge_totals", lambda *_: (_ for _ in ()).throw(Stop()))
    with pytest.raises(Stop):
        preference_eval.evaluate_preference_run(None, lambda: None, None, [], None)  # type: ignore[arg-type]


WARNINGS = {  # the library call -> (its warning as a library caller reads it, as a command logs it)
    "keep_fp32_masters": (warn_bf16_full_fine_tuning, "dtype=bfloat16 with every weight trained",
                          "model.dtype=bfloat16 with every weight trained"),
    "stage2_model_config": (warn_architecture_change, "pooling differs from init_ckpt's; using the checkpoint's",
                            "model.pooling differs from stage.init_ckpt's; using the checkpoint's"),
    "from_stage1": (warn_no_init_ckpt, "init_ckpt is not set: stage 2 starts from the base model",
                    "stage.init_ckpt is not set: stage 2 starts from the base model"),
    "evaluate_preference_run": (warn_no_test_split, "no rule-based test split (test_file): retention is not reported",
                                "no rule-based test split (data.test_file): retention is not reported"),
}


def warning_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]


@pytest.mark.parametrize("call", WARNINGS)
def test_a_library_warning_names_its_argument_and_a_task_logs_the_option(
    call: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, tmp_path: Path,
) -> None:
    warn, as_library, as_command = WARNINGS[call]
    caplog.set_level(logging.WARNING)
    warn(monkeypatch)
    assert [line for line in warning_lines(caplog) if line.startswith(as_library)], warning_lines(caplog)
    assert not any(CONFIG_KEY.search(line) for line in warning_lines(caplog))

    caplog.clear()
    task_wrapper(lambda cfg: warn(monkeypatch) or {})(OmegaConf.create({"paths": {"run_dir": str(tmp_path)}}))
    assert [line for line in warning_lines(caplog) if line.startswith(as_command)], warning_lines(caplog)
    caplog.clear()
    warn(monkeypatch)  # the task is over: the library's own reading again
    assert [line for line in warning_lines(caplog) if line.startswith(as_library)], warning_lines(caplog)


def test_an_option_text_is_named_in_every_handler_only_inside_the_block(caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("jobmatch.test_option_names")
    caplog.set_level(logging.WARNING)
    text = OptionText("{init_ckpt}=%s: not a checkpoint; set {init_ckpt}")
    assert str(text) == "init_ckpt=%s: not a checkpoint; set init_ckpt" and text.arguments() == ["init_ckpt"]
    with named_options_in_logs():
        log.warning(text, "x.ckpt")
    log.warning(text, "y.ckpt")
    assert warning_lines(caplog) == ["stage.init_ckpt=x.ckpt: not a checkpoint; set stage.init_ckpt",
                                     "init_ckpt=y.ckpt: not a checkpoint; set init_ckpt"]


def test_a_test_set_mismatch_is_one_line_naming_the_data_options(tmp_path: Path, capsys) -> None:
    """The fix hint of two audits over other test sets: arguments in the library, options on the command line
    (through a task, as the pipeline reads it, and through the report command's ``user_errors``)."""
    from types import SimpleNamespace

    from jobmatch.cli.errors import user_errors
    from jobmatch.report.fairness_report import check_same_test_set

    def mismatch(*_: object) -> dict[str, object]:
        check_same_test_set(tmp_path / "b", SimpleNamespace(queries=["q1"], talents=9), tmp_path / "a",
                            SimpleNamespace(queries=["q1", "q2"], talents=9))
        return {}

    with pytest.raises(OptionError) as error:
        mismatch()
    assert str(error.value).endswith("fix: audit both checkpoints with the same data (test_file, corpus_file)")
    def in_user_errors() -> None:
        with user_errors():
            mismatch()

    for run in (lambda: task_wrapper(mismatch)(OmegaConf.create({"paths": {"run_dir": str(tmp_path)}})),
                in_user_errors):
        capsys.readouterr()
        with pytest.raises(SystemExit) as exit_info:
            run()
        err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
        assert exit_info.value.code == 2
        assert len(err) == 1 and err[0].endswith("fix: audit both checkpoints with the same data "
                                                 "(data.test_file, data.corpus_file)"), err


def test_an_unwritable_folder_names_its_option_and_the_output_root(tmp_path: Path, monkeypatch) -> None:
    """The library names the folder as its caller does; a task adds the output root to the fix."""
    import jobmatch.app.evaluate_task as evaluate_task
    from jobmatch.errors import ConfigError
    from jobmatch.utils.writable import check_writable
    from tests.helpers import cfg_for

    (tmp_path / "blocker").write_text("in the way")
    blocked = tmp_path / "blocker" / "cache"
    with pytest.raises(ConfigError) as error:
        check_writable("cache", blocked)
    assert str(error.value).endswith("fix: set cache to a folder you can write")

    monkeypatch.setattr(evaluate_task, "build_datamodule", lambda *_: pytest.fail("data loaded before the refusal"))
    with pytest.raises(ConfigError) as error:
        evaluate_task.evaluate(cfg_for("evaluate", tmp_path, f"paths.cache_dir={blocked}"))
    assert str(error.value).startswith(f"paths.cache_dir={blocked}: not a writable folder")
    assert str(error.value).endswith("fix: set paths.cache_dir (or paths.output_dir) to a folder you can write")
