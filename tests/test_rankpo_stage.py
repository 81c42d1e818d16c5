"""Stage 2 on tiny models: preference data, the reference (frozen = online, cache), training, configs.

A stage-1 checkpoint is trained once per module on the contrastive fixture; the judged pairs of
``fixtures/preferences_tiny.jsonl`` pair each of its 12 JDs with a positive and a negative (the
positive preferred) three times, with confidences 55-95.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import lightning as L
import pytest
import torch

import jobmatch.modules.reference as reference_mod
from jobmatch.app.builders import build_datamodule, build_module
from jobmatch.app.train_task import train
from jobmatch.data.preferences import split_by_jd
from jobmatch.data.readers import read_preferences
from jobmatch.model.loading import load_encoder
from jobmatch.modules.rankpo import RankPOModule
from jobmatch.modules.reference import ReferenceCache, compute_reference_scores
from jobmatch.retrieval.encoder_eval import EncodeSettings
from jobmatch.retrieval.preference_eval import pair_similarities
from tests.helpers import FAST, FIXTURES, compose_config

PAIRS = FIXTURES / "preferences_tiny.jsonl"
CONTRASTIVE = FIXTURES / "contrastive_tiny.jsonl"
SETTINGS = EncodeSettings(max_query_length=256, max_passage_length=256, batch_size=8, progress=False)


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: one intra-op thread (conftest)


@pytest.fixture(scope="module")
def stage1(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Stage-1 checkpoints (LoRA) of tiny_bert and tiny_llama, one epoch on the contrastive fixture."""
    root = tmp_path_factory.mktemp("stage1")
    out = {}
    for model in ("tiny_bert", "tiny_llama"):
        cfg = compose_config([*FAST, f"model={model}", "stage.optim.lr=1e-3"], run_dir=root / model)
        out[model] = Path(train(cfg)["checkpoint/best"])
    return out


def stage2_cfg(tmp_path: Path, ckpt: Path, *overrides: str, run: str = "run"):
    """A tiny stage-2 run: two training batches per epoch, the rule-based fixture as test split."""
    return compose_config(
        [
            *FAST,
            "stage=rankpo",
            f"stage.init_ckpt={ckpt}",
            f"data.preference_train_file={PAIRS}",
            f"data.test_file={CONTRASTIVE}",
            "trainer.limit_train_batches=2",
            "eval.k=20",
            "eval.cutoffs=[1,5,10,20]",
            *overrides,
        ],
        run_dir=tmp_path / run,
    )


def setup_module_and_data(cfg) -> tuple[RankPOModule, object]:
    datamodule = build_datamodule(cfg)
    datamodule.setup("fit")
    return build_module(cfg), datamodule  # type: ignore[return-value]


# --- data -------------------------------------------------------------------------------------


def test_split_by_jd_is_seeded_and_keeps_jds_whole() -> None:
    records = read_preferences(PAIRS)
    test, val, train_ = split_by_jd(records, [0.2, 0.1], seed=0)
    jds = [{r.query_id for r in part} for part in (test, val, train_)]
    assert (len(jds[0]), len(jds[1]), len(jds[2])) == (2, 1, 9)  # round(0.2·12), round(0.1·12), the rest
    assert not (jds[0] & jds[1]) and not (jds[0] & jds[2]) and not (jds[1] & jds[2])
    assert len(test) + len(val) + len(train_) == len(records)
    assert split_by_jd(records, [0.2, 0.1], seed=0) == [test, val, train_]
    assert split_by_jd(records, [0.2, 0.1], seed=1) != [test, val, train_]
    with pytest.raises(ValueError, match="sum below 1"):
        split_by_jd(records, [0.6, 0.5], seed=0)


def test_preference_datamodule(tmp_path: Path, stage1: dict[str, Path]) -> None:
    cfg = stage2_cfg(tmp_path, stage1["tiny_bert"], "data.min_confidence=80")
    datamodule = build_datamodule(cfg)
    datamodule.setup("fit")
    splits = datamodule.preferences
    assert all(r.confidence_score >= 80 for r in splits.train)  # the filter applies to training only
    assert any(r.confidence_score < 80 for r in splits.val + splits.test)
    assert datamodule.val_retrieval is not None  # the contrastive val split still feeds val/ndcg@k
    batch = next(iter(datamodule.train_dataloader()))
    assert batch.chosen.input_ids.shape == batch.rejected.input_ids.shape
    assert batch.query.input_ids.shape[0] == len(batch.index) == 4
    records = datamodule.preference_records()
    tokenizer = datamodule.tokenizer
    for row, index in enumerate(batch.index.tolist()):  # global indices address preference_records()
        ids = batch.chosen.input_ids[row][batch.chosen.attention_mask[row].bool()].tolist()
        assert tokenizer.decode(ids, skip_special_tokens=True) == tokenizer.decode(
            tokenizer(records[index].chosen, truncation=True, max_length=256)["input_ids"], skip_special_tokens=True
        )
    val_batch = next(iter(datamodule.val_dataloader()))
    assert val_batch.index.min() >= len(splits.train)


def test_missing_preference_file_is_explained(tmp_path: Path) -> None:
    cfg = compose_config([*FAST, "stage=simrankpo"], run_dir=tmp_path)
    with pytest.raises(ValueError, match="preference_train_file is not set"):
        build_datamodule(cfg).setup("fit")


# --- the module and its reference ----------------------------------------------------------------


def test_starts_from_merged_stage1_with_fresh_adapter(tmp_path: Path, stage1: dict[str, Path]) -> None:
    module, datamodule = setup_module_and_data(stage2_cfg(tmp_path, stage1["tiny_bert"]))
    assert module.encoder.uses_lora
    assert all("lora_" in n for n, p in module.encoder.named_parameters() if p.requires_grad)
    records = datamodule.preference_records()[:6]
    expected = pair_similarities(load_encoder(stage1["tiny_bert"]), records, SETTINGS)  # stage 1, LoRA unmerged
    # Stage 2 at step 0 (fresh adapter, B = 0) and its reference (adapter off) both score as stage 1 did.
    policy = pair_similarities(module.encoder, records, SETTINGS)
    torch.testing.assert_close(torch.from_numpy(policy), torch.from_numpy(expected), atol=1e-5, rtol=0)
    reference = compute_reference_scores(module.encoder, records, SETTINGS)
    torch.testing.assert_close(torch.from_numpy(reference), torch.from_numpy(expected), atol=1e-5, rtol=0)
    # stage.disable_dropout (default): train-mode passes are deterministic, so rewards start at 0.
    module.train()
    batch = next(iter(datamodule.train_dataloader()))
    with torch.no_grad():
        first, second = module.scores(batch), module.scores(batch)
    torch.testing.assert_close(first, second, atol=0, rtol=0)


@pytest.mark.parametrize("model", ["tiny_bert", "tiny_llama"])
def test_frozen_and_online_reference_give_the_same_loss(tmp_path: Path, stage1: dict[str, Path], model: str) -> None:
    cfg = stage2_cfg(tmp_path, stage1[model], f"model={model}", "stage.reference=online", "stage.disable_dropout=false")
    online, datamodule = setup_module_and_data(cfg)
    with torch.no_grad():  # move the policy away from its reference
        for name, param in online.encoder.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.2, generator=torch.Generator().manual_seed(0))
    frozen = RankPOModule(**{**online.hparams, "reference": "frozen"})
    frozen.load_state_dict(online.state_dict())
    frozen.set_reference_scores(
        torch.from_numpy(compute_reference_scores(frozen.encoder, datamodule.preference_records(), SETTINGS))
    )
    batch = next(iter(datamodule.train_dataloader()))
    online.train(), frozen.train()  # dropout on in the policy pass, off in the reference pass
    ref_online = online.reference(batch)
    ref_frozen = frozen.reference(batch)
    for a, b in zip(ref_online, ref_frozen, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=0)
    torch.manual_seed(1)
    loss_online = online.preference_loss(batch)
    torch.manual_seed(1)
    loss_frozen = frozen.preference_loss(batch)
    with torch.no_grad():
        moved = (online.scores(batch)[0] - ref_online[0]).abs().max()
    assert moved > 1e-3  # the policy did move away from the reference
    for key in ("loss", "rankpo_loss", "rewards/margins", "rewards/chosen"):
        torch.testing.assert_close(loss_online[key], loss_frozen[key], atol=1e-5, rtol=0)
    assert online.training  # the reference pass restored train mode


def test_reference_cache_is_invalidated_by_data_and_weights(
    tmp_path: Path, stage1: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []
    original = reference_mod.compute_reference_scores
    monkeypatch.setattr(reference_mod, "compute_reference_scores", lambda *a, **k: calls.append(1) or original(*a, **k))
    module, datamodule = setup_module_and_data(stage2_cfg(tmp_path, stage1["tiny_bert"]))
    cache = ReferenceCache(tmp_path / "reference")
    records = datamodule.preference_records()
    first = cache.load_or_compute(module.encoder, records, SETTINGS)
    assert first.shape == (len(records), 2) and len(calls) == 1
    assert (cache.load_or_compute(module.encoder, records, SETTINGS) == first).all() and len(calls) == 1
    with torch.no_grad():  # training the adapter does not change the reference
        next(p for n, p in module.encoder.named_parameters() if "lora_B" in n).add_(0.5)
    cache.load_or_compute(module.encoder, records, SETTINGS)
    assert len(calls) == 1
    edited = [
        records[0].__class__(**{**records[0].to_json(), "passage1": records[0].passage1 + " More."}),
        *records[1:],
    ]
    cache.load_or_compute(module.encoder, edited, SETTINGS)
    assert len(calls) == 2  # data changed
    with torch.no_grad():
        next(p for n, p in module.encoder.named_parameters() if "lora_" not in n).add_(1e-3)
    cache.load_or_compute(module.encoder, records, SETTINGS)
    assert len(calls) == 3  # reference weights changed
    assert len(list((tmp_path / "reference").glob("*.npy"))) == 3


def rewards_accuracy(module: RankPOModule, datamodule) -> float:
    module.eval()
    with torch.no_grad():
        values = [module.preference_loss(b)["rewards/accuracy"] * len(b) for b in datamodule.train_dataloader()]
    module.train()
    return float(sum(values) / len(datamodule.train_set))


@pytest.mark.parametrize("lora", [True, False])
def test_rankpo_steps_raise_reward_accuracy(tmp_path: Path, stage1: dict[str, Path], lora: bool) -> None:
    """Frozen reference: accuracy starts near chance (rewards ≈ 0) and rises; only trainable weights move."""
    cfg = stage2_cfg(
        tmp_path,
        stage1["tiny_bert"],
        f"model.lora.enabled={lora}",
        "stage.optim.lr=3e-3",
        "stage.optim.warmup_ratio=0",
        "trainer.max_epochs=8",
        "trainer.limit_train_batches=1.0",
    )
    module, datamodule = setup_module_and_data(cfg)
    module.set_reference_scores(
        torch.from_numpy(compute_reference_scores(module.encoder, datamodule.preference_records(), SETTINGS))
    )
    before_params = {n: p.detach().clone() for n, p in module.encoder.named_parameters()}
    before = rewards_accuracy(module, datamodule)
    trainer = L.Trainer(
        max_epochs=8,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
    )
    trainer.fit(module, datamodule=datamodule)
    after = rewards_accuracy(module, datamodule)
    assert after >= 0.8 and after > before + 0.2, (before, after)
    trainable = {n for n, p in module.encoder.named_parameters() if p.requires_grad}
    for name, value in module.encoder.named_parameters():
        changed = not torch.equal(before_params[name], value)
        assert changed == (name in trainable) or (not lora and not changed), name
    if not lora:
        assert len(trainable) == len(before_params)
        assert sum(not torch.equal(before_params[n], p) for n, p in module.encoder.named_parameters()) > 0.8 * len(
            trainable
        )


# --- configs and end-to-end runs -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["stage.loss_type=hinge", "stage.label_smoothing=0.1"], "set stage.label_smoothing=0 or stage.loss_type"),
        (["stage.reference=online", "model.lora.enabled=false"], "use stage.reference=frozen"),
        (["stage=sft", "stage.reference=frozen"], "set stage.reference=none"),
    ],
)
def test_build_module_rejects_conflicting_options(tmp_path: Path, overrides: list[str], message: str) -> None:
    cfg = compose_config([*FAST, "stage=rankpo", *overrides], run_dir=tmp_path)
    with pytest.raises(ValueError, match=message):
        build_module(cfg)


@pytest.mark.parametrize("stage", ["rankpo", "rankpo_hinge", "rankpo_listwise", "simrankpo", "simrankpo_hinge", "sft"])
def test_every_stage_config_trains_and_reports(tmp_path: Path, stage1: dict[str, Path], stage: str) -> None:
    cfg = stage2_cfg(tmp_path, stage1["tiny_bert"], f"stage={stage}", "stage.optim.lr=1e-3", "logger=csv")
    results = train(cfg)
    run_dir = Path(cfg.paths.run_dir)
    assert json.loads((run_dir / "results.json").read_text()) == pytest.approx(results)
    for key in (
        "train/loss",
        "train/rankpo_loss",
        "train/sft_loss",
        "rewards/chosen",
        "rewards/rejected",
        "rewards/margins",
        "rewards/accuracy",
        "scores/chosen",
        "scores/rejected",
        "val/alignment",
        "val/ndcg@20",
        "test/ndcg@20",
        "test/alignment",
        "test/alignment_ci_low",
        "stage1/ndcg@20",
        "stage1/alignment",
        "delta/ndcg@20",
        "delta/alignment",
        "test/alignment_conf[90,101)",
    ):
        assert key in results, key
    assert results["delta/ndcg@20"] == pytest.approx(results["test/ndcg@20"] - results["stage1/ndcg@20"])
    assert results["delta/score_margin"] != 0  # the trained weights were evaluated, not the stage-1 ones
    assert results["checkpoint/best"].endswith("best.ckpt")
    assert "test/alignment_intent" not in results  # the fixture's pairs are not the offline judge's
    per_query = json.loads((run_dir / "per_query.json").read_text())  # per-JD values for paired comparisons
    assert set(per_query) == {"test", "stage1"} and {"ndcg@20", "alignment", "n_pairs"} <= set(per_query["test"])
    metrics = (run_dir / "csv" / "metrics.csv").read_text().splitlines()[0]
    assert "test/alignment" in metrics and "rewards/accuracy" in metrics


def test_sweep_reuses_reference_and_checkpoint_reloads_alone(
    tmp_path: Path, stage1: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two runs of a sweep compute the reference once; a stage-2 checkpoint loads without stage 1."""
    calls = []
    original = reference_mod.compute_reference_scores
    monkeypatch.setattr(reference_mod, "compute_reference_scores", lambda *a, **k: calls.append(1) or original(*a, **k))
    init = tmp_path / "stage1.ckpt"
    shutil.copy(stage1["tiny_bert"], init)
    for lr in ("1e-3", "1e-2"):
        results = train(stage2_cfg(tmp_path, init, f"stage.optim.lr={lr}", "stage.evaluate=false", run=f"lr{lr}"))
    assert len(calls) == 1
    init.unlink()
    best = results["checkpoint/best"]
    module = RankPOModule.load_from_checkpoint(best, weights_only=True)
    saved = torch.load(best, map_location="cpu", weights_only=True)["state_dict"]
    assert module.encoder.uses_lora and module.hparams["init_ckpt"] == str(init)
    for name, value in module.state_dict().items():
        assert torch.equal(value, saved[name]), name


def test_a_stage2_run_reads_its_stage1_checkpoint_once_before_training(
    tmp_path: Path, stage1: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stage-1 model config is read once (checks, data module, module all share it) and the weights once
    to start from; only the end-of-run comparison (``stage.evaluate``, off here) loads them again."""
    import jobmatch.model.checkpoint as checkpoint_mod
    import jobmatch.model.loading as loading_mod

    init = stage1["tiny_bert"]
    reads: list[str] = []

    def counting(module, label: str) -> None:
        original = module.read_checkpoint

        def read(path, *args, **kwargs):
            reads.append(label if Path(path) == init else "other")
            return original(path, *args, **kwargs)

        monkeypatch.setattr(module, "read_checkpoint", read)

    counting(checkpoint_mod, "model config")  # inspect_checkpoint
    counting(loading_mod, "weights")  # load_encoder
    train(stage2_cfg(tmp_path, init, "stage.evaluate=false", "trainer.max_steps=1"))
    assert sorted(r for r in reads if r != "other") == ["model config", "weights"]
