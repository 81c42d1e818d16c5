"""The offline judge on the text the encoder receives: visible texts, the visible ceiling and intent, tables."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from types import SimpleNamespace

import pytest

import jobmatch.retrieval.preference_eval as preference_eval
from jobmatch.data.records import PreferenceRecord
from jobmatch.data.synthetic import SyntheticConfig, World, build_world
from jobmatch.data.synthetic.judge import OfflineJudge
from jobmatch.model.tokenizer import load_tokenizer, tokenize
from jobmatch.retrieval.alignment import judge_ceiling_and_intent
from jobmatch.retrieval.encoder_eval import EncodeSettings
from jobmatch.retrieval.visible_text import visible_texts
from tests.helpers import compose_config


@pytest.fixture(scope="module")
def encoder() -> SimpleNamespace:
    """What the visible ceiling reads of an encoder: its tokenizer (MiniLM's, with the markup) and config."""
    cfg = compose_config(["model=tiny_bert"]).model
    return SimpleNamespace(tokenizer=load_tokenizer(cfg), cfg={"append_eos": False})


@pytest.fixture(scope="module")
def world() -> World:
    return build_world(SyntheticConfig(n_talents=200, n_jds=15))


def judged(world: World, n: int = 150) -> list[PreferenceRecord]:
    judge, rng = OfflineJudge(seed=0, noise=0.3), random.Random(0)
    records = []
    for _ in range(n):
        jd = world.jds[rng.randrange(len(world.jds))]
        a, b = rng.sample(world.talents, 2)
        verdict = judge.judge(jd.text, a.text, b.text)
        records.append(PreferenceRecord(query=jd.text, passage1=a.text, passage2=b.text, preferred=verdict.preferred,
                                        confidence_score=verdict.confidence_score, query_id=jd.id, model=judge.name))
    return records


def test_visible_text_is_the_prefix_the_kept_tokens_cover(encoder: SimpleNamespace, world: World) -> None:
    tokenizer = encoder.tokenizer
    long, short = world.talents[0].text, "Jane Doe <keyword> optimisation </keyword>"
    seen_long, seen_short = visible_texts(tokenizer, [long, short], max_length=24)
    assert seen_short == short and long.startswith(seen_long) and len(seen_long) < len(long)
    # the visible text tokenises to exactly the ids the encoder gets from the whole text
    assert tokenize(tokenizer, [seen_long], max_length=24) == tokenize(tokenizer, [long], max_length=24)
    assert len(tokenize(tokenizer, [seen_long], max_length=512)[0]) == 24


def test_visible_ceiling_equals_the_ceiling_when_everything_is_visible(encoder: SimpleNamespace,
                                                                      world: World) -> None:
    records = judged(world)
    totals = preference_eval.offline_judge_totals(records)
    assert totals is not None
    margin = totals[:, 0] - totals[:, 1]
    full = judge_ceiling_and_intent(margin, margin)  # a model that knows the noiseless scores
    whole = preference_eval.visible_ceiling_and_intent(encoder, records, EncodeSettings(max_query_length=512,
                                                       max_passage_length=2048), totals)
    assert whole["alignment_visible_ceiling"] == pytest.approx(full["alignment_ceiling"])
    assert whole["alignment_visible_intent"] == pytest.approx(full["alignment_intent"])
    # a 32-token window hides most of what the judge reads: the visible ceiling falls toward chance
    cut = preference_eval.visible_ceiling_and_intent(encoder, records, EncodeSettings(max_query_length=512,
                                                     max_passage_length=32), totals)
    assert 0.4 < cut["alignment_visible_ceiling"] < whole["alignment_visible_ceiling"]
    assert cut["alignment_visible_intent"] < whole["alignment_visible_intent"]


def test_visible_keys_have_no_delta() -> None:
    metrics = {"alignment": 0.6, "alignment_ceiling": 0.8, "alignment_visible_ceiling": 0.7,
               "alignment_visible_intent": 0.75}
    keys = preference_eval.with_deltas(metrics, metrics)
    assert "delta/alignment" in keys and not {k for k in keys if k.startswith("delta/") and "ceiling" in k}
    assert "delta/alignment_visible_intent" not in keys


def test_pipeline_and_sweep_tables_show_the_visible_ceiling(tmp_path) -> None:
    from jobmatch.report.pipeline_summary import pipeline_table
    from jobmatch.report.sweep import collect_runs, sweep_table
    from tests.helpers.reports import fake_run

    results = {"test/ndcg@20": 0.5, "test/alignment": 0.6, "test/alignment_ceiling": 0.8,
               "test/alignment_visible_ceiling": 0.66, "test/alignment_intent": 0.7,
               "test/alignment_visible_intent": 0.74}
    table = pipeline_table(results, "rankpo")
    assert "| judge ceiling | visible ceiling | intent | visible intent |" in table
    row = next(line for line in table.splitlines() if line.startswith("| rankpo |"))
    assert row.endswith("| 0.6000 | 0.8000 | 0.6600 | 0.7000 | 0.7400 |")

    fake_run(tmp_path, "0", "rankpo", 1e-4, 0, 0.48, 0.62)
    path = tmp_path / "0" / "results.json"
    path.write_text(json.dumps(json.loads(path.read_text()) | {k: v for k, v in results.items() if "ceiling" in k
                                                               or "visible" in k}))
    sweep = sweep_table(collect_runs([str(tmp_path)]))
    assert "| judge ceiling | visible ceiling | visible intent |" in sweep
    row = next(line for line in sweep.splitlines() if line.startswith("| rankpo |"))
    assert row.endswith("| 0.8000 | 0.6600 | 0.7400 |")


def test_ceiling_by_length_script(world: World, tmp_path, capsys) -> None:
    from experiments.visible_length.ceiling import main
    from jobmatch.data.readers import write_jsonl

    path = tmp_path / "pairs.jsonl"
    write_jsonl(path, [r.to_json() for r in judged(world, n=40)])
    main([str(path), "--lengths", "32", "4096", "--model", "tiny_bert"])
    out = capsys.readouterr().out.splitlines()
    rows = [line for line in out if line.startswith("| 32 |") or line.startswith("| 4096 |")]
    short, whole = ([float(x) for x in row.strip("| ").split(" | ")] for row in rows)
    assert whole[1] == whole[2]  # everything visible: the visible ceiling is the ceiling
    assert short[2] <= whole[2] and short[3] <= whole[3]
    # the truncation cost: ceiling − visible ceiling, with a bootstrap interval over JDs around it
    cost = {line.split(" tokens")[0].strip("| "): line for line in out if " tokens |" in line}
    assert cost["4096"] == "| 4096 tokens | +0.0000 | [+0.0000, +0.0000] |"
    estimate, interval = cost["32"].strip("| ").split(" | ")[1:]
    low, high = (float(x) for x in interval.strip("[]").split(", "))
    assert float(estimate) == pytest.approx(short[1] - short[2], abs=1e-4) and low <= float(estimate) <= high


def test_ceiling_script_reads_id_rows_through_the_corpus(world: World, tmp_path, capsys) -> None:
    """Pairs written by jobmatch.annotate name talents by id: the script reads their texts from --corpus and
    prints the same table as for the same pairs with inline texts (not the all-ties 0.5 of empty texts)."""
    from experiments.visible_length.ceiling import main
    from jobmatch.data.readers import write_jsonl
    from jobmatch.errors import UserError

    by_text = {t.text: t.id for t in world.talents}
    records = judged(world, n=40)
    inline, by_id, corpus = tmp_path / "inline.jsonl", tmp_path / "ids.jsonl", tmp_path / "corpus.jsonl"
    write_jsonl(inline, [r.to_json() for r in records])
    write_jsonl(by_id, [replace(r, passage_id1=by_text[r.passage1], passage_id2=by_text[r.passage2]).by_id().to_json()
                        for r in records])
    write_jsonl(corpus, [{"id": t.id, "text": t.text} for t in world.talents])
    args = ["--lengths", "32", "4096", "--model", "tiny_bert"]
    main([str(inline), *args])
    expected = capsys.readouterr().out.splitlines()[1:]
    main([str(by_id), "--corpus", str(corpus), *args])
    table = capsys.readouterr().out.splitlines()[1:]
    assert table == expected
    whole = next(line for line in table if line.startswith("| 4096 |"))
    assert float(whole.strip("| ").split(" | ")[1]) > 0.5  # the judge ceiling of texts it can read
    with pytest.raises(UserError, match="--corpus"):
        main([str(by_id), *args])
    with pytest.raises(ValueError, match="texts"):
        preference_eval.offline_judge_totals([r.by_id() for r in
                                              (replace(r, passage_id1="a", passage_id2="b") for r in records)])
