"""Time and peak memory of the in-training validation and of the fairness audit on one market (``model=tiny_bert``).

    .venv/bin/python -m jobmatch.data.synthetic --n-talents 10000 --n-jds 3000 --out /tmp/market
    /usr/bin/time -v env PYTHONPATH=. .venv/bin/python experiments/benchmarks/linear_steps.py \\
        --data /tmp/market --step validation            # or --step audit

It runs against whichever ``jobmatch`` is first on ``PYTHONPATH``, so that the same command measures two
versions of the code (e.g. a ``git archive`` of an older commit). The JDs are those of ``--splits`` (default:
every split, so that JDs grow with the market) with their rule positives as qrels, ranked against the whole
corpus by the tiny random BERT (seed 0; 64 tokens per JD, 128 per talent, batches of 64; one thread).

- ``validation``: :class:`~jobmatch.retrieval.validation_callback.RetrievalValidation` (cut-offs 10, 20, 100), one
  validation epoch end.
- ``audit``: :func:`~jobmatch.retrieval.fairness_audit.audit_values` (ks 10 and 20, depth 100) with the
  encoder's embeddings: the factual corpus, the name-blind control and the gender and origin counterfactuals.

Prints one JSON line: the step, the sizes, the step's seconds, the peak RSS before the step (data and model
loaded) and after it (``ru_maxrss``, what ``/usr/bin/time -v`` reports as its maximum resident set size).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import torch
from hydra import compose, initialize_config_dir

from jobmatch.app.builders import container
from jobmatch.data.corpus import Corpus
from jobmatch.data.identities import read_identities
from jobmatch.data.readers import read_contrastive
from jobmatch.data.retrieval_set import build_retrieval_set
from jobmatch.model import TextEncoder
from jobmatch.retrieval.encoder_eval import EncodeSettings

CONF = Path(__file__).resolve().parents[2] / "conf"
SETTINGS = EncodeSettings(max_query_length=64, max_passage_length=128, batch_size=64, progress=False)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def tiny_bert() -> TextEncoder:
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name="train", overrides=["model=tiny_bert"])
    torch.manual_seed(0)
    return TextEncoder(container(cfg.model)).eval()


def run_validation(encoder: TextEncoder, rset: Any) -> dict[str, float]:
    try:
        from jobmatch.retrieval.validation_callback import RetrievalValidation
    except ImportError:  # versions before the module's rename
        from jobmatch.retrieval.validation import RetrievalValidation  # type: ignore[no-redef]

    logged: dict[str, float] = {}
    module = SimpleNamespace(encoder=encoder, log=lambda name, value, **kw: logged.__setitem__(name, float(value)))
    trainer = SimpleNamespace(sanity_checking=False, global_rank=0, world_size=1)
    callback = RetrievalValidation(rset, cutoffs=(10, 20, 100), max_query_length=SETTINGS.max_query_length,
                                   max_passage_length=SETTINGS.max_passage_length, batch_size=SETTINGS.batch_size)
    callback.on_validation_epoch_end(trainer, module)  # type: ignore[arg-type]
    return logged


def run_audit(encoder: TextEncoder, rset: Any, identities: Any) -> dict[str, float]:
    import jobmatch.retrieval.fairness_audit as audit

    # the embeddings of the current code, the text scorer of older versions (same arguments)
    model = getattr(audit, "encoder_embeddings", None) or audit.encoder_scorer
    values = audit.audit_values(model(encoder, rset, SETTINGS), rset, identities, audit.AuditSettings())
    return {f"{a}/{name}": float(v.mean()) for a, attr in values.attributes.items() for name, v in attr.shift.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="a synthetic market directory")
    parser.add_argument("--step", choices=("validation", "audit"), required=True)
    parser.add_argument("--splits", nargs="+", default=["train", "val", "test"])
    args = parser.parse_args()
    torch.set_num_threads(1)
    import faiss

    faiss.omp_set_num_threads(1)
    cache = Path(tempfile.mkdtemp(prefix="linear_steps-"))  # a fresh store and token cache: each run tokenises
    records = [r for split in args.splits for r in read_contrastive(args.data / f"{split}.jsonl")]
    corpus = Corpus.open(args.data / "corpus.jsonl", cache)
    rset = build_retrieval_set(records, corpus, cache_dir=cache)
    identities = read_identities(args.data / "corpus.jsonl")
    encoder = tiny_bert()
    before = peak_rss_mb()
    start = time.perf_counter()
    values = run_validation(encoder, rset) if args.step == "validation" else run_audit(encoder, rset, identities)
    seconds = time.perf_counter() - start
    print(json.dumps({"step": args.step, "talents": len(rset.corpus), "jds": len(rset.queries),
                      "seconds": round(seconds, 1), "peak_rss_mb_before_step": round(before),
                      "peak_rss_mb": round(peak_rss_mb()), "values": values}))
    shutil.rmtree(cache, ignore_errors=True)


if __name__ == "__main__":
    main()
