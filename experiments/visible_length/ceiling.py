"""The offline judge's visible ceiling and intent by token limit, for a judged-pairs file (no training).

    python -m experiments.visible_length.ceiling PAIRS.jsonl [--corpus CORPUS.jsonl] [--lengths 128 192 256 512]
        [--query-length 256] [--model minilm]

``jobmatch.annotate`` writes pairs that name their talents by id (``passage_id1/2``); ``--corpus`` (the run's
``data.corpus_file``) gives their texts.

For each talent token limit L: ``alignment_ceiling`` (the judge's noiseless preference on the whole texts
against its verdicts), ``alignment_visible_ceiling`` and ``alignment_visible_intent`` (the same preference on the
text a model with limit L receives), from :func:`jobmatch.retrieval.preference_eval.visible_ceiling_and_intent`.
They depend on the pairs and the tokenizer only, so they bound every model trained at that limit. Prints a
markdown table, then the truncation cost per limit (judge ceiling − visible ceiling) with a 95% bootstrap interval
over JDs (pairs of one JD are not independent), the pairs' only sampling uncertainty: they have no seeds.
"""

from __future__ import annotations

import argparse
from types import SimpleNamespace

import numpy as np

from jobmatch.app.config_tree import CONFIG_DIR
from jobmatch.cli.errors import user_errors
from jobmatch.data.preferences import resolve_texts
from jobmatch.data.readers import read_preferences
from jobmatch.data.retrieval_set import open_corpus
from jobmatch.errors import UserError
from jobmatch.model.tokenizer import load_tokenizer
from jobmatch.retrieval.alignment import pair_wins
from jobmatch.retrieval.encoder_eval import EncodeSettings
from jobmatch.retrieval.preference_eval import offline_judge_totals, pair_query_ids, visible_pair_wins
from jobmatch.utils.bootstrap import paired_bootstrap


def model_config(name: str) -> dict:
    """The ``conf/model/<name>.yaml`` node, composed as the entry points compose it."""
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return dict(compose(config_name="train", overrides=[f"model={name}"]).model)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m experiments.visible_length.ceiling")
    parser.add_argument("pairs", help="judged pairs of the offline judge (preferences_test.jsonl)")
    parser.add_argument("--corpus", help="the talent corpus (data.corpus_file) when the pairs name talents by id")
    parser.add_argument("--lengths", type=int, nargs="+", default=[128, 192, 256, 512])
    parser.add_argument("--query-length", type=int, default=256, help="the JD token limit (data.max_query_length)")
    parser.add_argument("--model", default="minilm", help="conf/model/<name>.yaml: whose tokenizer cuts the texts")
    args = parser.parse_args(argv)
    records = read_preferences(args.pairs)
    if args.corpus is None and any(r.is_id_row for r in records):
        raise UserError(f"{args.pairs} names its talents by id (passage_id1/2): pass --corpus CORPUS.jsonl "
                        "(the annotation's data.corpus_file)")
    records = resolve_texts(records, open_corpus(args.corpus) if args.corpus else None, args.pairs)
    totals = offline_judge_totals(records)
    if totals is None:
        raise UserError(f"{args.pairs}: not every pair was judged by the offline judge; the visible ceiling needs "
                        "its noiseless scores")
    cfg = model_config(args.model)
    encoder = SimpleNamespace(tokenizer=load_tokenizer(cfg), cfg={"append_eos": bool(cfg.get("append_eos", False))})
    margin = totals[:, 0] - totals[:, 1]
    full = pair_wins(margin, np.zeros_like(margin))  # [P] the judge ceiling's wins
    jd_of = pair_query_ids(records)
    jds = sorted(set(jd_of))
    column = {jd: i for i, jd in enumerate(jds)}
    index = np.array([column[jd] for jd in jd_of])  # [P]
    counts = np.bincount(index, minlength=len(jds))  # [J] pairs per JD
    print(f"{len(records)} pairs, {len(jds)} JDs, tokenizer of model={args.model}")
    print("| talent tokens | judge ceiling | visible ceiling | visible intent |\n|---|---|---|---|")
    costs = []
    for length in args.lengths:
        settings = EncodeSettings(max_query_length=args.query_length, max_passage_length=length)
        seen, intent = visible_pair_wins(encoder, records, settings, totals)  # type: ignore[arg-type]
        print(f"| {length} | {full.mean():.4f} | {seen.mean():.4f} | {intent.mean():.4f} |")
        per_jd = np.bincount(index, weights=full - seen, minlength=len(jds)) / counts  # [J]
        costs.append((length, *paired_bootstrap(per_jd, counts)))
    print("\n| talent tokens, cost | judge ceiling − visible ceiling | 95% interval (JDs) |\n|---|---|---|")
    for length, estimate, low, high in costs:
        print(f"| {length} tokens | {estimate:+.4f} | [{low:+.4f}, {high:+.4f}] |")


if __name__ == "__main__":
    with user_errors():
        main()
