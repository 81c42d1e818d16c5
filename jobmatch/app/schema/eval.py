"""The ``eval`` group (``conf/eval/``): retrieval evaluation of a model on the test (and validation) split."""

from __future__ import annotations

from dataclasses import dataclass

from jobmatch.retrieval.search import INDEX_KINDS
from jobmatch.utils.option_rules import Choice, IntList, Num, Subset, option


@dataclass
class EvalOptions:
    """How retrieval is evaluated."""

    k: int = option(100, "passages retrieved per JD", Num(low=1, integer=True))
    cutoffs: list[int] = option([1, 5, 10, 20, 100], "metric cutoffs of the test metrics (at most k)", IntList(),
                                example="[1,5,10,20,100]")
    val_cutoffs: list[int] = option([10, 20, 100], "cutoffs logged every validation epoch (val/ndcg@20 ...)",
                                    IntList(), example="[10,20,100]")
    batch_size: int = option(64, "texts per encoding batch (sorted by length)", Num(low=1, integer=True))
    bf16: bool = option(False, "bf16 autocast for encoding")
    index: str = option("auto", "the FAISS index: auto | flat | ivf | hnsw", Choice(("auto", *INDEX_KINDS)))
    cache: bool = option(True, "cache embeddings on disk by model and corpus fingerprint")
    baselines: list[str] = option(["base", "bm25"], "also evaluate the untrained base model and BM25",
                                  Subset(("base", "bm25")), example="[base,bm25]")
