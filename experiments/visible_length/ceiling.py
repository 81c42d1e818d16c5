"""The offline judge's visible ceiling and intent by token limit, for a judged-pairs file (no training).

    python -m experiments.visible_length.ceiling PAIRS.jsonl [--corpus CORPUS.jsonl] [--lengths 128 192 256 512]
        [--query-length 256] [--model minilm]

``jobmatch.annotate`` writes pairs that name their talents by id (``passage_id1/2``); ``--corpus`` (the run's
``data.corpus_file``) gives their texts.

For each talent token limit L: ``alignment_ceiling`` (the judge's noiseless preference on the whole texts
against its verdicts), ``alignment_visible_ceiling`` and ``alignment_visible_intent`` (the same preference on the
text a model with limit L receives), from :func:`jobmatch.retrieval.preference_eval.visible_ceiling_and_intent`.
They depend on the pairs and the tokenizer only, so they bound every model trained at that limit. Prints a
markdown table.
"""

from __future__ import annotations

import argparse
from types import SimpleNamespace

from jobmatch.app.validation import CONF_DIR
from jobmatch.cli.errors import user_errors
from jobmatch.data.preferences import resolve_texts
from jobmatch.data.readers import read_preferences
from jobmatch.data.retrieval_set import open_corpus
from jobmatch.errors import UserError
from jobmatch.model.tokenizer import load_tokenizer
from jobmatch.retrieval.alignment import judge_ceiling_and_intent
from jobmatch.retrieval.encoder_eval import EncodeSettings
from jobmatch.retrieval.preference_eval import offline_judge_totals, visible_ceiling_and_intent


def model_config(name: str) -> dict:
    """The ``conf/model/<name>.yaml`` node, composed as the entry points compose it."""
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
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
    ceiling = judge_ceiling_and_intent(margin, margin)["alignment_ceiling"]
    print(f"{len(records)} pairs, {len({r.query_id or r.query for r in records})} JDs, tokenizer of model={args.model}")
    print("| talent tokens | judge ceiling | visible ceiling | visible intent |\n|---|---|---|---|")
    for length in args.lengths:
        settings = EncodeSettings(max_query_length=args.query_length, max_passage_length=length)
        seen = visible_ceiling_and_intent(encoder, records, settings, totals)  # type: ignore[arg-type]
        print(f"| {length} | {ceiling:.4f} | {seen['alignment_visible_ceiling']:.4f} | "
              f"{seen['alignment_visible_intent']:.4f} |")


if __name__ == "__main__":
    with user_errors():
        main()
