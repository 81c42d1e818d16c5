"""Each text encoded once per step, and in-batch false negatives masked.

Unique-text batches must give the loss and every gradient of the naive batches (one forward row per
slot) on batches with repeats, for stage 1 (InfoNCE, chunked or not) and stage 2 (RankPO with an
online reference); the grouped sampler must yield every pair once per epoch, seeded, JDs together.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import lightning as L
import pytest
import torch

from experiments.benchmarks.unique_texts import cpu_trainer, one_row_per_slot
from jobmatch.app.builders import container
from jobmatch.data.collate import ContrastiveCollator
from jobmatch.data.datasets import GroupedEpochSampler
from jobmatch.data.preferences import PreferenceCollator
from jobmatch.losses import info_nce_loss
from jobmatch.modules.contrastive import ContrastiveModule, false_negative_mask
from jobmatch.modules.rankpo import RankPOModule
from tests.helpers import FAST, compose_config

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: one intra-op thread (conftest)

OPTIM = {"lr": 1e-3, "weight_decay": 0.0, "warmup_ratio": 0.0, "min_lr_ratio": 0.0}


def texts(n: int, seed: int = 0) -> list[list[int]]:
    """``n`` random token-id sequences of 3-9 tokens (BERT vocabulary ids, 101 = [CLS])."""
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(3, 10, (n,), generator=g).tolist()
    return [[101, *torch.randint(1000, 5000, (k,), generator=g).tolist()] for k in lengths]


def model_cfg() -> dict:
    return container(compose_config([*FAST]).model)


def attached(module: L.LightningModule) -> L.LightningModule:
    """``module`` attached to a one-device CPU trainer (its steps ask the trainer for the world size)."""
    module.trainer = cpu_trainer()
    return module


# --- the false-negative mask --------------------------------------------------------------------


A, B, C, D, E = ([i] for i in range(1, 6))  # one-token "texts" suffice for the mask


def test_mask_marks_copies_of_a_querys_positives() -> None:
    """q0: group [A, B, E], known positives A and D; q1: group [C, A, D], positive C.

    For q0 the copy of A (q1's negative, slot 4) and its other positive D (slot 5) are masked; q1's
    only positive C occurs in its own slot alone: nothing is masked for it.
    """
    batch = ContrastiveCollator(pad_id=0)([([7], [A, B, E], [A, D]), ([8], [C, A, D], [C])])
    slot_keys = batch.passage_keys[batch.slots]
    mask = false_negative_mask(slot_keys, batch.positive_keys, batch.group_size, in_batch_negatives=True)
    assert mask.tolist() == [[True, False, False, False, True, True], [False] * 3 + [True, False, False]]
    # The target (slot 0 for q0, slot 3 for q1) is flagged but never masked by the loss:
    # q=(1,0),(0,1); A=D=(1,0), B=C=E=(0,1); τ=1.
    # q0 scores [1,0,0,0,1,1]: unmasked -log(e/(3e+3)) = log(3+3/e); masked -log(e/(e+3)) = log(1+3/e).
    # q1 scores [0,1,1,1,0,0]: target slot 3, nothing masked: log(3+3/e).
    x, y = [1.0, 0.0], [0.0, 1.0]
    query = torch.tensor([x, y])
    passages = torch.tensor([x, y, y, y, x, x])
    plain = info_nce_loss(query, passages, temperature=1.0)
    masked = info_nce_loss(query, passages, temperature=1.0, mask=mask)
    assert plain.item() == pytest.approx(math.log(3 + 3 / math.e), abs=1e-6)
    assert masked.item() == pytest.approx((math.log(1 + 3 / math.e) + math.log(3 + 3 / math.e)) / 2, abs=1e-6)


def test_same_jd_twice_shares_its_positives() -> None:
    """The JD [7] occurs twice with different known positives: each copy masks the other's positive."""
    batch = ContrastiveCollator(pad_id=0)([([7], [A, B], [A]), ([7], [D, C], [D])])
    mask = false_negative_mask(batch.passage_keys[batch.slots], batch.positive_keys, 2, in_batch_negatives=True)
    # rows: q0 flags its target A and the copy's positive D; q1 flags A and its target D.
    assert mask.tolist() == [[True, False, True, False], [True, False, True, False]]
    own = false_negative_mask(batch.passage_keys[batch.slots], batch.positive_keys, 2, in_batch_negatives=False)
    assert own.tolist() == [[True, False], [True, False]]  # no copies inside the own groups


def test_duplicate_of_own_positive_in_own_group_is_masked() -> None:
    """A negative that is the same text as the sampled positive is not a negative (hand-checked).

    q=(1,0); group [A, A', B] with A' = A = (1,0), B=(0,1); τ=1: unmasked -log(e/(2e+1)), masked -log(e/(e+1)).
    """
    batch = ContrastiveCollator(pad_id=0)([([7], [A, A, B], [A])])
    assert len(batch.passages) == 2  # A encoded once
    mask = false_negative_mask(batch.passage_keys[batch.slots], batch.positive_keys, 3, in_batch_negatives=False)
    q, p = torch.tensor([[1.0, 0.0]]), torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    loss = info_nce_loss(q, p, temperature=1.0, in_batch_negatives=False, mask=mask)
    assert loss.item() == pytest.approx(math.log(1 + 1 / math.e), abs=1e-6)


def test_cross_device_mask_uses_the_gathered_keys() -> None:
    """Two devices of 2 queries each, as the module runs them (per-device collation, gathered slot keys):
    q0's positive A is a negative of device 1's q3; the per-device losses average to the one-device loss."""
    examples = [([7], [A, B], [A]), ([8], [C, B], [C]), ([9], [D, E], [D]), ([6], [E, A], [E])]
    torch.manual_seed(0)
    query = torch.nn.functional.normalize(torch.randn(4, 8), dim=-1)
    table = torch.nn.functional.normalize(torch.randn(6, 8), dim=-1)  # row t: the embedding of text [t]
    passages = torch.stack([table[p[0]] for _, group, _ in examples for p in group])  # [8, 8]
    whole = ContrastiveCollator(pad_id=0)(examples)
    one = false_negative_mask(whole.passage_keys[whole.slots], whole.positive_keys, 2, in_batch_negatives=True)
    assert one.sum() == 4 + 2  # the 4 targets, q0's A in q3's group (device 1), q3's E in q2's group
    single = info_nce_loss(query, passages, temperature=0.1, mask=one)
    halves = [ContrastiveCollator(pad_id=0)(examples[2 * r : 2 * r + 2]) for r in (0, 1)]
    gathered = torch.cat([h.passage_keys[h.slots] for h in halves])  # what all_gather of the slot keys gives
    per_device = [
        info_nce_loss(
            query[2 * r : 2 * r + 2],
            passages,
            temperature=0.1,
            group_size=2,
            query_offset=2 * r,
            mask=false_negative_mask(gathered, h.positive_keys, 2, in_batch_negatives=True, offset=2 * r),
        )
        for r, h in enumerate(halves)
    ]
    torch.testing.assert_close((per_device[0] + per_device[1]) / 2, single, atol=1e-6, rtol=1e-6)
    assert (single - info_nce_loss(query, passages, temperature=0.1)).abs() > 1e-4  # the mask mattered


# --- stage 1: unique passages = naive path --------------------------------------------------------


def contrastive_examples() -> list[tuple]:
    """4 queries, groups of 3 with repeats: q0's positive is q1's negative, q0 occurs twice."""
    q, p = texts(3, seed=1), texts(6, seed=2)
    return [
        (q[0], [p[0], p[1], p[2]], [p[0], p[5]]),
        (q[1], [p[3], p[0], p[4]], [p[3]]),
        (q[2], [p[5], p[1], p[2]], [p[5]]),
        (q[0], [p[5], p[3], p[4]], [p[0], p[5]]),
    ]


def loss_and_grads(module: torch.nn.Module, loss_fn: Callable[[], torch.Tensor]) -> tuple[torch.Tensor, dict]:
    module.zero_grad()
    loss = loss_fn()
    loss.backward()
    grads = {n: p.grad.clone() for n, p in module.named_parameters() if p.grad is not None}
    return loss.detach(), grads


def assert_same(a: tuple[torch.Tensor, dict], b: tuple[torch.Tensor, dict]) -> None:
    torch.testing.assert_close(a[0], b[0], atol=1e-6, rtol=1e-6)
    assert a[1].keys() == b[1].keys() and a[1]
    for name in a[1]:
        torch.testing.assert_close(a[1][name], b[1][name], atol=1e-6, rtol=1e-5, msg=name)


@pytest.mark.parametrize(("in_batch", "chunk_size"), [(True, None), (True, 3), (False, None)])
def test_stage1_unique_passages_match_naive(in_batch: bool, chunk_size: int | None) -> None:
    torch.manual_seed(0)
    module = attached(
        ContrastiveModule(model_cfg(), OPTIM, temperature=0.05, in_batch_negatives=in_batch, chunk_size=chunk_size)
    ).eval()  # eval: no dropout, same draws for both paths
    examples = contrastive_examples()
    unique = ContrastiveCollator(pad_id=0)(examples)
    naive = one_row_per_slot(unique)
    assert len(unique.passages) == 6 < len(naive.passages) == 12
    assert unique.texts_encoded == 10 and naive.texts_encoded == 16
    assert_same(
        loss_and_grads(module, lambda: module.contrastive_loss(unique)[0]),
        loss_and_grads(module, lambda: module.contrastive_loss(naive)[0]),
    )


# --- stage 2: distinct JDs and talents = naive path -----------------------------------------------


def preference_examples() -> list[tuple]:
    """6 pairs of 2 JDs; talents repeat across and within JDs (a chosen one is another pair's rejected)."""
    q, t = texts(2, seed=3), texts(5, seed=4)
    pairs = [(0, 0, 1), (0, 2, 1), (0, 0, 3), (1, 1, 4), (1, 4, 0), (1, 2, 3)]
    return [(q[a], t[b], t[c], i) for i, (a, b, c) in enumerate(pairs)]


@pytest.mark.parametrize("reference", ["online", "none"])
def test_stage2_unique_texts_match_naive(reference: str) -> None:
    torch.manual_seed(0)
    module = RankPOModule(model_cfg(), OPTIM, reference=reference, sft_weight=0.5)
    with torch.no_grad():  # move the policy away from its reference (a fresh adapter is a no-op)
        for name, param in module.encoder.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.2, generator=torch.Generator().manual_seed(0))
    module.train()  # dropout is disabled by default (stage.disable_dropout)
    examples = preference_examples()
    unique = PreferenceCollator(pad_id=0)(examples)
    naive = one_row_per_slot(unique)
    assert (len(unique.queries), len(unique.talents)) == (2, 5)
    assert (len(naive.queries), len(naive.talents)) == (6, 12)
    torch.testing.assert_close(unique.chosen.input_ids, naive.chosen.input_ids[:, : unique.talents.input_ids.shape[1]])
    a = loss_and_grads(module, lambda: module.preference_loss(unique)["loss"])
    b = loss_and_grads(module, lambda: module.preference_loss(naive)["loss"])
    assert_same(a, b)
    if reference == "online":
        for x, y in zip(module.reference(unique), module.reference(naive), strict=True):
            torch.testing.assert_close(x, y, atol=1e-6, rtol=1e-6)


# --- the logged count -----------------------------------------------------------------------------


def test_texts_encoded_per_step_is_logged() -> None:
    logged: dict[str, float] = {}

    def log(name: str, value: object, **kwargs: object) -> None:
        logged[name] = float(torch.as_tensor(value).detach())

    stage1 = attached(ContrastiveModule(model_cfg(), OPTIM))
    stage1.log = log  # type: ignore[method-assign]
    stage1.training_step(ContrastiveCollator(pad_id=0)(contrastive_examples()), 0)
    assert logged["train/texts_encoded_per_step"] == 4 + 6  # 4 queries, 6 distinct of 12 passages
    stage2 = RankPOModule(model_cfg(), OPTIM, reference="online")
    stage2.log = log  # type: ignore[method-assign]
    stage2.training_step(PreferenceCollator(pad_id=0)(preference_examples()), 0)
    assert logged["train/texts_encoded_per_step"] == 2 * (2 + 5)  # policy and online reference passes


# --- the grouped sampler --------------------------------------------------------------------------


GROUPS = [3, 1, 3, 2, 1, 3, 0, 2, 2, 3, 1, 0, 4]  # the JD of each of 13 pairs


def sampler(epoch: int, seed: int = 0, **kwargs: object) -> GroupedEpochSampler:
    s = GroupedEpochSampler(
        list(range(len(GROUPS))),
        groups=GROUPS,
        batch_size=4,
        seed=seed,
        **{"num_replicas": 1, "rank": 0, "shuffle": True, **kwargs},
    )
    s.set_epoch(epoch)
    return s


def order(s: GroupedEpochSampler) -> list[int]:
    return [index for index, _ in s]


def test_grouped_sampler_every_pair_once_jds_together_seeded() -> None:
    first = order(sampler(0))
    assert sorted(first) == list(range(len(GROUPS))) and len(sampler(0)) == len(GROUPS)
    jds = [GROUPS[i] for i in first]
    runs = [jd for k, jd in enumerate(jds) if k == 0 or jd != jds[k - 1]]
    assert len(runs) == len(set(GROUPS))  # each JD's pairs form one contiguous run
    assert order(sampler(0)) == first  # a function of (seed, epoch)
    assert order(sampler(1)) != first and sorted(order(sampler(1))) == sorted(first)
    assert order(sampler(0, seed=1)) != first
    assert all(epoch == 0 for _, epoch in sampler(0))
    assert [GROUPS[i] for i in order(sampler(0, shuffle=False))] == [3, 3, 3, 3, 1, 1, 1, 2, 2, 2, 0, 0, 4]


def test_grouped_sampler_deals_whole_batches_to_devices() -> None:
    shards = [order(sampler(2, num_replicas=2, rank=r)) for r in (0, 1)]
    assert len(shards[0]) == len(shards[1]) == len(sampler(2, num_replicas=2, rank=0)) == 8  # 4 batches of 4
    whole = order(sampler(2))
    assert shards[0][:4] == whole[:4] and shards[1][:4] == whole[4:8]  # batches dealt round-robin
    assert set(shards[0]) | set(shards[1]) == set(range(len(GROUPS)))


@pytest.mark.slow
def test_unique_texts_benchmark_quick() -> None:
    """The side-by-side benchmark on tiny_bert: fewer texts per step with grouped + unique batches (~1-2 min)."""
    from experiments.benchmarks import unique_texts

    result = unique_texts.run(quick=True)
    rows = {(r["stage"], r["variant"]): r for r in result["rows"]}
    assert (
        rows["stage 2 (RankPO)", "grouped+unique"]["texts_per_step"]
        < rows["stage 2 (RankPO)", "naive"]["texts_per_step"]
    )
    assert rows["stage 1 (InfoNCE)", "unique"]["texts_per_step"] <= rows["stage 1 (InfoNCE)", "naive"]["texts_per_step"]
    assert {"model", "batch", "lengths", "precision", "repetitions"} <= set(result["settings"])
