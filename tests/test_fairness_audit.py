"""The fairness audit: a name-blind scorer shows no counterfactual change, a biased one is caught."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from jobmatch.data.identities import CorpusIdentities, counterfactual_corpus, name_blind_corpus, read_identities
from jobmatch.data.retrieval_set import build_retrieval_set
from jobmatch.data.synthetic import SyntheticConfig
from jobmatch.data.synthetic.labels import contrastive_row, split_jds
from jobmatch.data.synthetic.names import strip_identity
from jobmatch.data.synthetic.world import build_world
from jobmatch.retrieval import topk
from jobmatch.retrieval.fairness_audit import (
    AuditEmbeddings,
    AuditSettings,
    AuditValues,
    audit_rankings,
    audit_values,
    summarise,
)
from jobmatch.retrieval.fairness_paired import paired_audit
from tests.helpers.dense_audit import dense_audit_values

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


def _dyadic(x: float) -> float:
    """``x`` rounded to a multiple of 2^-16 (exact in float32, and so are sums of a few hundred of them below 2)."""
    return round(x * 65536) / 65536


def word_embeddings(queries: list[str], bias: float = 0.0) -> Callable[[list[str]], np.ndarray]:
    """A bag-of-words model, name-blind: score = (JD words shared) / (1 + the talent's distinct words), plus
    ``bias`` for profiles marked she/her (one more dimension). Returns the talent embedder; row 0 of
    ``embed.queries`` holds the JD embeddings.

    Weights and bias are rounded to multiples of 2^-16, so every score is a sum of float32 values that adds up
    exactly in any order: a matrix product gives the same scores whatever its shape or the CPU's kernels (on
    AVX2, a 7-row chunk and the whole matrix rounded two tied scores differently and broke the tie otherwise)."""
    vocab = sorted(set().union(*(_words(q) for q in queries)))
    column = {w: i for i, w in enumerate(vocab)}

    def embed(texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), len(vocab) + 1), dtype=np.float32)
        for i, text in enumerate(texts):
            words = _words(text)
            out[i, [column[w] for w in words if w in column]] = _dyadic(1.0 / (1 + len(words)))
            out[i, -1] = _dyadic(bias) * (text.startswith("Name: ") and "(she/her)" in text.split("\n", 1)[0])
        return out

    jds = np.zeros((len(queries), len(vocab) + 1), dtype=np.float32)
    for i, query in enumerate(queries):
        jds[i, [column[w] for w in _words(query)]] = 1.0
    jds[:, -1] = 1.0
    embed.queries = jds  # type: ignore[attr-defined]
    return embed


def model(rset, bias: float = 0.0) -> AuditEmbeddings:
    """The bag-of-words model's embeddings of ``rset``'s JDs and talents."""
    embed = word_embeddings(list(rset.queries.values()), bias)
    return AuditEmbeddings(embed.queries, embed(list(rset.corpus.values())), embed)  # type: ignore[attr-defined]


def test_identities_are_read_and_counterfactuals_change_only_the_cue(market) -> None:
    rset, identities = market
    assert identities.attributes == ["gender", "origin"]
    cf, changed = counterfactual_corpus(rset.corpus, identities, "gender")
    assert changed == len(rset.corpus)
    cid = next(iter(rset.corpus))
    assert strip_identity(cf[cid]) == strip_identity(rset.corpus[cid]) and cf[cid] != rset.corpus[cid]


def test_a_name_blind_model_shows_no_counterfactual_change(market) -> None:
    rset, identities = market
    out = audit_rankings(model(rset), rset, identities, SETTINGS)
    for attribute in ("gender", "origin"):
        for key in ("topk_change@20", "abs_rank_shift@50", "score_shift", "abs_score_shift"):
            assert out[f"audit/{attribute}/{key}"] == 0.0
            assert out[f"audit/{attribute}/{key}_ci_high"] == 0.0


def test_a_biased_model_is_caught(market) -> None:
    rset, identities = market
    out = audit_rankings(model(rset, bias=1.0), rset, identities, SETTINGS)
    assert out["audit/gender/topk_change@20_ci_low"] > 0.2
    assert out["audit/gender/impact_ratio@20/female"] == 1.0
    assert out["audit/gender/impact_ratio@20/male"] < 0.8 and out["audit/gender/flagged@20"] == 1.0
    assert out["audit/gender/min_impact_ratio@10"] < 0.8 and out["audit/gender/flagged@10"] == 1.0
    # the bias follows pronouns only: moving names to another origin group, gender kept, changes nothing
    assert out["audit/origin/topk_change@20"] == 0.0


def test_per_jd_values_survive_json_and_give_the_same_figures(market) -> None:
    rset, identities = market
    values = audit_values(model(rset, bias=0.3), rset, identities, SETTINGS)
    again = AuditValues.from_json(json.loads(json.dumps(values.to_json())))
    assert summarise(again, SETTINGS) == summarise(values, SETTINGS)
    assert summarise(values, SETTINGS) == audit_rankings(model(rset, bias=0.3), rset, identities, SETTINGS)


def test_paired_differences_are_zero_for_one_model_and_decided_for_a_biased_one(market) -> None:
    rset, identities = market
    blind = audit_values(model(rset), rset, identities, SETTINGS)
    biased = audit_values(model(rset, bias=1.0), rset, identities, SETTINGS)
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
    fair = audit_rankings(model(rset), rset, identities, SETTINGS)  # ignores names: no effect at all
    key = "audit/gender/names_effect_min_impact_ratio@20"
    assert fair[key] == fair[f"{key}_ci_low"] == fair[f"{key}_ci_high"] == 0.0
    assert fair["audit/gender/blind_min_impact_ratio@20"] == fair["audit/gender/min_impact_ratio@20"]
    biased = audit_rankings(model(rset, bias=1.0), rset, identities, SETTINGS)
    assert biased["audit/gender/blind_min_impact_ratio@20"] == fair["audit/gender/min_impact_ratio@20"]
    assert biased[f"{key}_ci_high"] < 0  # the pronoun bias pushes the lowest ratio down: decided


def assert_same_values(new: AuditValues, old: AuditValues) -> None:
    """Equal per-JD values: counts and rank shifts exactly, score shifts up to float32 rounding (the product of a
    chunk of JDs with the corpus may round otherwise than the whole matrix's)."""
    assert new.queries == old.queries and new.talents == old.talents and list(new.attributes) == list(old.attributes)
    for attribute, v in new.attributes.items():
        w = old.attributes[attribute]
        assert v.groups == w.groups and v.talents_changed == w.talents_changed
        np.testing.assert_array_equal(v.relevant, w.relevant)
        for mine, theirs in ((v.top, w.top), (v.blind_top, w.blind_top)):
            assert list(mine) == list(theirs)
            for k in mine:
                np.testing.assert_array_equal(mine[k], theirs[k], err_msg=f"{attribute} top@{k}")
        assert list(v.shift) == list(w.shift)
        for name in v.shift:
            tolerance = 1e-6 if "score" in name else 1e-12
            np.testing.assert_allclose(v.shift[name], w.shift[name], rtol=0, atol=tolerance, err_msg=name)


@pytest.mark.parametrize("settings", [SETTINGS, AuditSettings(ks=(1, 400), change_k=400, depth=500, n_bootstrap=50)])
@pytest.mark.parametrize("bias", [0.0, 0.3, 1.0])
def test_top_k_audit_equals_the_dense_audit(market, bias: float, settings: AuditSettings, monkeypatch) -> None:
    """The same values as full score matrices and full sorts give, ties included (the bag-of-words scores tie
    often), with 7 JDs per chunk of scores and cut-offs beyond the corpus."""
    rset, identities = market
    monkeypatch.setattr(topk, "CHUNK_SCORES", 7 * len(rset.corpus))
    emb = model(rset, bias)
    new, old = audit_values(emb, rset, identities, settings), dense_audit_values(emb, rset, identities, settings)
    assert_same_values(new, old)
    assert summarise(new, settings) == pytest.approx(summarise(old, settings), abs=1e-6)
    assert bias == 0.0 or any(v.any() for v in new.attributes["gender"].shift.values())  # the check has teeth


def test_the_audit_embeds_only_the_talents_a_counterfactual_changes(market) -> None:
    """A third of the talents carry a name and gender: the gender counterfactual embeds those 100, the
    name-blind control every synthetic profile (each shows an identity line) once; the factual corpus never."""
    rset, identities = market
    ids = rset.corpus.ids[:100]
    some = CorpusIdentities(groups={"gender": {c: identities.groups["gender"][c] for c in ids}},
                            names={c: identities.names[c] for c in ids})
    emb = model(rset)
    factual = set(rset.corpus.values())
    embedded: list[str] = []

    def counting(texts: list[str]) -> np.ndarray:
        embedded.extend(texts)
        return emb.embed(texts)

    values = audit_values(AuditEmbeddings(emb.queries, emb.corpus, counting), rset, some, SETTINGS)
    assert len(embedded) == len(rset.corpus) + 100 and not factual & set(embedded)
    assert values.attributes["gender"].talents_changed == 100


def test_streamed_rows_are_the_changes_of_the_copied_corpora() -> None:
    """User profiles (names in the text, no identity line): the rows streamed in small batches are exactly the
    talents whose text the whole-corpus copies change, with the same new texts."""
    from jobmatch.data.corpus import Corpus
    from jobmatch.data.identities import counterfactual_rows, name_blind_rows

    texts = {"t1": "Maria Lopez (she/her) leads a lab. Lopez publishes on optics.", "t2": "no name here",
             "t3": "John Smith (he/him) studies soils; Smith teaches.", "t4": "Ana Diaz writes on tides."}
    user = CorpusIdentities(groups={"gender": {"t1": "female", "t3": "male", "t4": "female"}},
                            names={"t1": "Maria Lopez", "t3": "John Smith", "t4": "Ana Diaz"})
    corpus = Corpus.from_mapping(texts)
    for copied, streamed in ((counterfactual_corpus(texts, user, "gender", seed=3), counterfactual_rows(
            corpus, user, "gender", seed=3, rows_per_batch=2)), (name_blind_corpus(texts, user),
                                                                 name_blind_rows(corpus, user, rows_per_batch=2))):
        rows = {corpus.ids[p]: t for positions, new in streamed for p, t in zip(positions.tolist(), new, strict=True)}
        assert rows == {c: t for c, t in copied[0].items() if t != texts[c]} and len(rows) == copied[1] == 3


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
