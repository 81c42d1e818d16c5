"""The ``jobmatch`` command: one subcommand per task, each with the options it has as a module.

    jobmatch train model=tiny_bert data.train_file=pairs.jsonl     # Hydra overrides, as python -m jobmatch.train
    jobmatch rank model=outputs/export/matcher index=outputs/index/talents jd='"Postdoc, Bristol"'
    jobmatch report outputs/multirun/...                            # argparse options, as python -m jobmatch.report
    jobmatch --help                                                 # the subcommands

``python -m jobmatch.<task>`` runs the same code through :func:`run_command`, so both spellings take the
same arguments and report errors the same way (:mod:`jobmatch.cli.errors`).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from jobmatch.cli.errors import USER_STATUS, hydra_command, user_errors


@dataclass(frozen=True)
class Command:
    """A subcommand: the module whose ``main`` runs it, and how ``main`` takes its arguments.

    ``hydra``: ``main`` is a ``@hydra.main`` function reading ``sys.argv``; else ``main(argv)`` parses
    them (argparse) and returns an exit status or ``None``. ``model_dir``: ``model=DIR`` names the
    exported model folder (``model_dir``), not the ``model`` config group.
    """

    module: str
    summary: str
    hydra: bool = True
    model_dir: bool = False


COMMANDS: dict[str, Command] = {
    "train": Command("jobmatch.train", "train one stage (contrastive, RankPO, SimRankPO, SFT)"),
    "evaluate": Command("jobmatch.evaluate", "retrieval and preference metrics of a checkpoint"),
    "mine": Command("jobmatch.mine", "mine hard negatives with a checkpoint"),
    "curriculum": Command("jobmatch.curriculum", "stage 1 over mining rounds (incremental or combined)"),
    "annotate": Command("jobmatch.annotate.__main__", "judge ranked pairs into preference files"),
    "pipeline": Command("jobmatch.pipeline", "the whole method, resumable step by step (make demo)"),
    "audit": Command("jobmatch.audit", "fairness audit of a checkpoint"),
    "export": Command("jobmatch.export", "export a checkpoint's encoder as an HF + sentence-transformers folder"),
    "index": Command("jobmatch.index", "embed a talent pool into a FAISS index", model_dir=True),
    "rank": Command("jobmatch.rank", "rank the talents of an index for job descriptions", model_dir=True),
    "report": Command("jobmatch.report.__main__", "table and figures of a stage-2 sweep", hydra=False),
    "data": Command("jobmatch.data.synthetic.__main__", "generate a synthetic job market", hydra=False),
}


def alias_model_argument(argv: Sequence[str]) -> list[str]:
    """Rewrite ``model=DIR`` to ``model_dir=DIR``.

    Hydra treats ``model=`` as a choice of the ``model`` config group (conf/model/), so the index
    and rank configs name the export folder ``model_dir``; this keeps ``model=DIR`` working on
    their command lines.
    """
    return [f"model_dir={arg[len('model='):]}" if arg.startswith("model=") else arg for arg in argv]


def run_command(name: str, argv: Sequence[str] | None = None) -> None:
    """Run subcommand ``name`` with ``argv`` (default: this process's arguments) and exit with its status."""
    command = COMMANDS[name]
    args = list(sys.argv[1:] if argv is None else argv)
    main = importlib.import_module(command.module).main
    if command.hydra:
        sys.argv = [f"jobmatch {name}", *(alias_model_argument(args) if command.model_dir else args)]
        hydra_command(main)
        raise SystemExit(0)
    with user_errors():
        status = main(args)
    raise SystemExit(status or 0)


def usage() -> str:
    """The subcommands, one a line."""
    width = max(map(len, COMMANDS))
    lines = [f"  {name:<{width}}  {command.summary}" for name, command in COMMANDS.items()]
    return "\n".join(["usage: jobmatch COMMAND [ARGS...]   (jobmatch COMMAND --help: its options)", "",
                      "commands:", *lines])


def main(argv: Sequence[str] | None = None) -> None:
    """The ``jobmatch`` console script."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(usage())
        raise SystemExit(0 if args else USER_STATUS)
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        sys.stderr.write(f"error: jobmatch {name}: unknown command; expected one of {', '.join(COMMANDS)}\n")
        raise SystemExit(USER_STATUS)
    run_command(name, rest)
