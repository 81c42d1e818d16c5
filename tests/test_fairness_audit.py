"""The fairness audit: a name-blind scorer shows no counterfactual change, a biased one is caught."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from jobmatch.data.identities import CorpusIdentities, counterfactual_corpus, name_blind_corpus, read_identities
from jobmatch.data.retrieval_set import build_retrieval_set
from jobmatch.data.synthetic import SyntheticConfig
from jobmatch.data.synthetic.labels import contrastive_row, split_jds
from jobmatch.data.synthetic.names import strip_identity
from jobmatch.data.synthetic.world import build_world
from jobmatch.retrieval.fairness_audit import AuditSettings, AuditValues, audit_rankings, audit_values, summarise
from jobmatch.retrieval.fairness_paired import paired_audit

TINY = SyntheticConfig(n_talents=300, n_jds=100, relocation_probability=0.5, judge_pairs=10)
SETTINGS = AuditSettings(ks=(10, 20), depth=50, n_bootstrap=200)


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory):
    world = build_world(TINY)
    rows = [contrastive_row(world, jd) for jd in split_jds(world)["test"]]
    path = tmp_path_factory.mktemp("corpus") / "corpus.jsonl"
    path.write_text(
        "".join(
            json.dumps(
                {
                    "id": t.id,
                    "text": t.text,
                    "name": t.identity.name,
                    "gender": t.identity.gender,
                    "origin": t.identity.origin,
                }
            )
            + "\n"
            for t in world.talents
        )
    )
    corpus = {t.id: t.text for t in world.talents}
    return build_retrieval_set(rows, corpus), read_identities(path)


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]+", strip_identity(text).lower()))


def blind_scorer(queries: list[str], bias: float = 0.0):
    """Word overlap with the JD, name-blind; ``bias`` is added for profiles marked she/her."""
    query_words = [_words(q) for q in queries]

    def score(texts: list[str]) -> np.ndarray:
        words = [_words(t) for t in texts]
        base = np.array([[len(q & w) / (1 + len(w)) for w in words] for q in query_words])  # [Q, N]
        return base + bias * np.array([t.startswith("Name: ") and "(she/her)" in t.split("\n", 1)[0] for t in texts])

    return score


def test_identities_are_read_and_counterfactuals_change_only_the_cue(market) -> None:
    rset, identities = market
    assert identities.attributes == ["gender", "origin"]
    cf, changed = counterfactual_corpus(rset.corpus, identities, "gender")
    assert changed == len(rset.corpus)
    cid = next(iter(rset.corpus))
    assert strip_identity(cf[cid]) == strip_identity(rset.corpus[cid]) and cf[cid] != rset.corpus[cid]


def test_a_name_blind_model_shows_no_counterfactual_change(market) -> None:
    rset, identities = market
    out = audit_rankings(blind_scorer(list(rset.queries.values())), rset, identities, SETTINGS)
    for attribute in ("gender", "origin"):
        for key in ("topk_change@20", "abs_rank_shift@50", "score_shift", "abs_score_shift"):
            assert out[f"audit/{attribute}/{key}"] == 0.0
            assert out[f"audit/{attribute}/{key}_ci_high"] == 0.0


def test_a_biased_model_is_caught(market) -> None:
    rset, identities = market
    out = audit_rankings(blind_scorer(list(rset.queries.values()), bias=1.0), rset, identities, SETTINGS)
    assert out["audit/gender/topk_change@20_ci_low"] > 0.2
    assert out["audit/gender/impact_ratio@20/female"] == 1.0
    assert out["audit/gender/impact_ratio@20/male"] < 0.8 and out["audit/gender/flagged@20"] == 1.0
    assert out["audit/gender/min_impact_ratio@10"] < 0.8 and out["audit/gender/flagged@10"] == 1.0
    # the bias follows pronouns only: moving names to another origin group, gender kept, changes nothing
    assert out["audit/origin/topk_change@20"] == 0.0


def test_per_jd_values_survive_json_and_give_the_same_figures(market) -> None:
    rset, identities = market
    values = audit_values(blind_scorer(list(rset.queries.values()), bias=0.3), rset, identities, SETTINGS)
    again = AuditValues.from_json(json.loads(json.dumps(values.to_json())))
    assert summarise(again, SETTINGS) == summarise(values, SETTINGS)
    assert summarise(values, SETTINGS) == audit_rankings(
        blind_scorer(list(rset.queries.values()), bias=0.3), rset, identities, SETTINGS)


def test_paired_differences_are_zero_for_one_model_and_decided_for_a_biased_one(market) -> None:
    rset, identities = market
    queries = list(rset.queries.values())
    blind = audit_values(blind_scorer(queries), rset, identities, SETTINGS)
    biased = audit_values(blind_scorer(queries, bias=1.0), rset, identities, SETTINGS)
    same = paired_audit(blind, blind, k=20, n_bootstrap=200)
    for attribute in ("gender", "origin"):
        for key in ("topk_change@20", "min_impact_ratio@20"):
            assert same[f"audit/{attribute}/{key}"] == 0.0
            assert same[f"audit/{attribute}/{key}_ci_low"] == same[f"audit/{attribute}/{key}_ci_high"] == 0.0
    assert same["audit/gender/jds"] == len(rset.queries)
    delta = paired_audit(biased, blind, k=20, n_bootstrap=200)
    change = summarise(biased, SETTINGS)["audit/gender/topk_change@20"]  # the blind model changes nothing
    assert delta["audit/gender/topk_change@20"] == pytest.approx(change)
    assert delta["audit/gender/topk_change@20_ci_low"] > 0
    assert delta["audit/gender/min_impact_ratio@20"] < 0 and delta["audit/gender/min_impact_ratio@20_ci_high"] < 0
    # only the JDs both audited pair up
    half = AuditValues(biased.queries[:5], biased.talents, {
        a: type(v)(v.groups, v.relevant[:5], {k: t[:5] for k, t in v.top.items()},
                   {n: x[:5] for n, x in v.shift.items()}, v.talents_changed)
        for a, v in biased.attributes.items()})
    assert paired_audit(half, blind, k=20, n_bootstrap=50)["audit/gender/jds"] == 5


def test_the_name_blind_control_removes_names_and_measures_their_effect(market) -> None:
    rset, identities = market
    blind, changed = name_blind_corpus(rset.corpus, identities)
    assert changed == len(rset.corpus) and all(blind[c] == strip_identity(t) for c, t in rset.corpus.items())
    user = CorpusIdentities(groups={"gender": {"t1": "female"}}, names={"t1": "Maria Lopez"})
    text = "Maria Lopez (she/her) leads a lab. Lopez publishes on optics; ask Maria."
    assert name_blind_corpus({"t1": text, "t2": "no name"}, user) == (
        {"t1": "leads a lab.  publishes on optics; ask .", "t2": "no name"}, 1)
    queries = list(rset.queries.values())
    fair = audit_rankings(blind_scorer(queries), rset, identities, SETTINGS)  # ignores names: no effect at all
    key = "audit/gender/names_effect_min_impact_ratio@20"
    assert fair[key] == fair[f"{key}_ci_low"] == fair[f"{key}_ci_high"] == 0.0
    assert fair["audit/gender/blind_min_impact_ratio@20"] == fair["audit/gender/min_impact_ratio@20"]
    biased = audit_rankings(blind_scorer(queries, bias=1.0), rset, identities, SETTINGS)
    assert biased["audit/gender/blind_min_impact_ratio@20"] == fair["audit/gender/min_impact_ratio@20"]
    assert biased[f"{key}_ci_high"] < 0  # the pronoun bias pushes the lowest ratio down: decided


def test_user_data_without_groups_has_no_attributes(tmp_path: Path) -> None:
    path = tmp_path / "corpus.jsonl"
    path.write_text('{"id": "a", "text": "x"}\n{"id": "b", "text": "y", "group": "g1"}\n')
    identities = read_identities(path)
    assert identities.attributes == ["group"] and identities.groups["group"] == {"b": "g1"}


@pytest.mark.slow
def test_audit_entry_point_writes_results_report_and_figure(tmp_path: Path) -> None:
    """``python -m jobmatch.audit`` on a small generated market with tiny_bert, the offline judge asked too."""
    from jobmatch.app.audit_task import audit
    from tests.helpers import compose_config

    cfg = compose_config(
        [
            "model=tiny_bert",
            "logger=none",
            "data=synthetic_small",
            "data.synthetic.overrides={n_talents: 300, n_jds: 60, judge_pairs: 10}",
            "fairness.judge_pairs_per_query=2",
            "fairness.n_bootstrap=100",
        ],
        tmp_path / "run",
        "audit",
        output_dir=tmp_path / "out",
    )
    results = audit(cfg)
    run = tmp_path / "run"
    assert json.loads((run / "results.json").read_text()) == pytest.approx(results)
    assert (run / "audit.png").stat().st_size > 0 and "## gender" in (run / "audit.md").read_text()
    assert results["judge/flip_rate"] == 0.0 and results["judge/pairs"] > 0  # the offline judge ignores names
    for attribute in ("gender", "origin"):
        assert 0.0 <= results[f"audit/{attribute}/topk_change@20"] <= 1.0
        assert results[f"audit/{attribute}/talents_changed"] == 300


def test_audit_of_data_without_groups_is_one_clear_error(tmp_path: Path) -> None:
    from jobmatch.app.audit_task import corpus_identities
    from jobmatch.errors import UserError
    from tests.helpers import compose_config

    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text('{"id": "a", "text": "x"}\n')
    cfg = compose_config([f"data.corpus_file={corpus}"], config_name="audit")
    with pytest.raises(UserError, match=r"corpus.jsonl: no talent carries a group field"):
        corpus_identities(cfg)


@pytest.mark.slow
@pytest.mark.parametrize("redact", [True, False])
def test_a_judge_biased_on_purpose_flips_when_names_are_swapped(tmp_path: Path, redact: bool) -> None:
    """A loopback judge that prefers she/her profiles flips on every mixed-gender pair whose cues swap
    (redaction removes names, not pronouns, so the bias still shows)."""
    from experiments.benchmarks.judge_server import FakeChatServer
    from jobmatch.app.audit_task import audit
    from tests.helpers import compose_config

    with FakeChatServer() as server:
        server.prefer_pronoun = "she/her"
        cfg = compose_config([
            "model=tiny_bert", "logger=none", "data=synthetic_small",
            "data.synthetic.overrides={n_talents: 300, n_jds: 60, judge_pairs: 10}",
            "fairness.judge_pairs_per_query=3",
            "fairness.n_bootstrap=100", "judge=local", f"judge.base_url={server.url}", "judge.model=biased",
            "judge.progress=false", f"judge.redact={str(redact).lower()}"],
            run_dir=tmp_path / "run", config_name="audit")
        results = audit(cfg)
        assert all("Maria" not in p for p in server.prompts) or not redact
    assert results["judge/pairs"] == 18
    assert 0.2 < results["judge/flip_rate"] <= 1.0 and results["judge/flip_rate_ci_low"] > 0
