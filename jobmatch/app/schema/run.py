"""Options of the root config itself (not a group): the seed, and the pipeline's stage-2 trainer settings."""

from __future__ import annotations

from dataclasses import dataclass

from jobmatch.utils.option_rules import Num, option


@dataclass
class Trainer2Options:
    """``trainer2``: the pipeline's stage-2 trainer settings; null: as in stage 1."""

    max_epochs: int | None = option(None, "stage-2 epochs (reference scripts: 3)",
                                    Num(low=1, integer=True, nullable=True), example="3")
    precision: str | None = option(None, "stage-2 precision (null: trainer.precision)")


@dataclass
class RunOptions:
    """The root options the groups share."""

    seed: int = option(42, "seeds Python, NumPy and torch (and the samplers that follow ${seed})", Num(integer=True))
    trainer2: Trainer2Options = option(Trainer2Options, "the pipeline's stage-2 trainer settings")
