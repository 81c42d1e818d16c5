"""The ``curriculum`` group (``conf/curriculum/``): stage 1 alone, or followed by rounds of mining and retraining."""

from __future__ import annotations

from dataclasses import dataclass

from jobmatch.utils.option_rules import Choice, Num, option

CURRICULUM_MODES = ("none", "incremental", "combined")  # stage 1 alone, or its mining rounds


@dataclass
class CurriculumOptions:
    """The mining rounds after stage 1 (``incremental.yaml`` holds these defaults)."""

    mode: str = option("incremental", "none | incremental (each round's negatives) | combined (all rounds')",
                       Choice(CURRICULUM_MODES))
    rounds: int = option(2, "mining rounds after round 0", Num(low=0, integer=True))
    init: str = option("previous", "previous: round k starts from round k-1's best checkpoint; base: the base model",
                       Choice(("previous", "base")))
    later_epochs: int | None = option(None, "epochs of rounds >= 1 (null: trainer.max_epochs)",
                                      Num(low=1, integer=True, nullable=True), example="1")
