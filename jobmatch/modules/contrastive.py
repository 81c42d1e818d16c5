"""Stage 1: the contrastive LightningModule (thin: encoder + info_nce_loss)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import lightning as L
import torch

from jobmatch.data.collate import ContrastiveBatch, TokenBatch
from jobmatch.errors import OptionError
from jobmatch.losses import info_nce_loss
from jobmatch.model import TextEncoder
from jobmatch.model.chunked import encode_in_chunks
from jobmatch.model.encoder import compile_encoder, keep_fp32_masters
from jobmatch.model.loading import load_encoder
from jobmatch.modules.optim import build_optimizer


def false_negative_mask(
    slot_keys: torch.Tensor, positive_keys: torch.Tensor, group_size: int, in_batch_negatives: bool, offset: int = 0
) -> torch.Tensor:
    """True where a candidate passage is a copy of one of the query's known positives.

    Args:
        slot_keys: [M·G] identity key of the passage in every slot (all devices' after a gather).
        positive_keys: [B, K] keys of each local query's known positives.
        group_size: G.
        in_batch_negatives: candidates are every slot (True) or the query's own group.
        offset: group index of the first local query among the slots.
    Returns:
        [B, M·G] (in-batch) or [B, G] bool; the loss never masks a query's own target.
    """
    if not in_batch_negatives:
        own = slot_keys.view(-1, group_size)[offset : offset + positive_keys.shape[0]]  # [B, G]
        return (own[:, :, None] == positive_keys[:, None, :]).any(-1)  # [B, G]
    return (slot_keys[None, :, None] == positive_keys[:, None, :]).any(-1)  # [B, M·G]


class ContrastiveModule(L.LightningModule):
    """Train the encoder with InfoNCE on rule-based positives and sampled negatives.

    Args:
        model: the model config (primitives; rebuilt by ``load_from_checkpoint``).
        optim: optimiser settings (see :func:`jobmatch.modules.optim.build_optimizer`).
        temperature: InfoNCE τ.
        in_batch_negatives: use every passage of the batch (and of every device) as a negative.
        init_ckpt: a checkpoint whose encoder weights (same model config) initialise this one.
        chunk_size: encode at most this many texts per forward, sorted by length and trimmed to each
            chunk's own padding (None: the whole batch at once). Same loss and gradients.
        chunk_recompute: with ``chunk_size``, keep no activations and recompute them one chunk at a
            time in backward (GradCache memory profile: peak memory of one chunk, a second forward).
        max_query_length, max_passage_length: the token limits the run trained with (recorded in the
            hyperparameters for ``jobmatch.export``; the DataModule applies them).
    """

    def __init__(
        self,
        model: Mapping[str, Any],
        optim: Mapping[str, Any],
        temperature: float = 0.02,
        in_batch_negatives: bool = True,
        init_ckpt: str | None = None,
        chunk_size: int | None = None,
        chunk_recompute: bool = True,
        max_query_length: int | None = None,
        max_passage_length: int | None = None,
    ) -> None:
        super().__init__()
        # logger=False: the W&B config is the run's config (jobmatch.app.wandb_meta), not these flat copies of it
        self.save_hyperparameters(ignore=["init_ckpt"], logger=False)  # a reload must not need the init file
        self.encoder = TextEncoder(model)
        if keep_fp32_masters(self.encoder):  # checkpoints record the dtype the weights are saved in
            self.hparams["model"]["dtype"] = "float32"
        if init_ckpt:  # start from an earlier round's weights (a new run, not a resume)
            self.encoder.load_state_dict(load_encoder(init_ckpt).state_dict())
        self.temperature = temperature
        self.in_batch_negatives = in_batch_negatives
        if chunk_size is not None and chunk_size < 1:
            raise OptionError(f"{{chunk_size}}={chunk_size}: use a positive number of texts, or null for no chunks")
        self.chunk_size = chunk_size
        self.chunk_recompute = chunk_recompute

    def configure_model(self) -> None:
        """Compile the encoder when ``model.compile`` names a mode (Lightning calls this before fit/validate)."""
        compile_encoder(self.encoder, self.hparams["model"].get("compile"))

    def embed(self, tokens: TokenBatch) -> torch.Tensor:
        """[B, D] embeddings of a token batch (in length-sorted chunks when ``chunk_size`` is set)."""
        if self.chunk_size is None:
            return self.encoder(tokens.input_ids, tokens.attention_mask)
        return encode_in_chunks(
            self.encoder, tokens.input_ids, tokens.attention_mask, self.chunk_size, recompute=self.chunk_recompute
        )

    def contrastive_loss(self, batch: ContrastiveBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """(loss, accuracy of the positive ranking first in its own group).

        Each distinct passage is encoded once ([U, D]) and gathered into its B·G slots; the gradient
        of a repeated passage is the sum over its slots, as if each slot had been encoded on its own.
        """
        query = self.embed(batch.query)  # [B, D]
        passages = self.embed(batch.passages)[batch.slots]  # [U, D] -> [B·G, D]
        slot_keys = batch.passage_keys[batch.slots] if batch.passage_keys is not None else None  # [B·G]
        offset = 0
        if self.in_batch_negatives and self.trainer is not None and self.trainer.world_size > 1:
            # Cross-device negatives; gradients flow back to the device that made each embedding.
            gathered = self.all_gather(passages, sync_grads=True)  # [W, B·G, D]
            passages = gathered.reshape(-1, gathered.shape[-1])  # [W·B·G, D]
            offset = self.trainer.global_rank * query.shape[0]
            if slot_keys is not None:  # same-sized on every device, as the passages are
                slot_keys = self.all_gather(slot_keys).reshape(-1)  # [W·B·G]
        mask = None  # copies of a query's known positives are not its negatives
        if slot_keys is not None and batch.positive_keys is not None:
            mask = false_negative_mask(
                slot_keys, batch.positive_keys, batch.group_size, self.in_batch_negatives, offset
            )
        loss = info_nce_loss(
            query,
            passages,
            temperature=self.temperature,
            in_batch_negatives=self.in_batch_negatives,
            group_size=batch.group_size,
            query_offset=offset,
            mask=mask,
        )
        with torch.no_grad():
            own = passages.view(-1, batch.group_size, passages.shape[-1])[offset : offset + query.shape[0]]
            accuracy = (torch.einsum("bd,bgd->bg", query.float(), own.float()).argmax(1) == 0).float().mean()
        return loss, accuracy

    def training_step(self, batch: ContrastiveBatch, batch_idx: int) -> torch.Tensor:
        loss, accuracy = self.contrastive_loss(batch)
        size = len(batch.query)
        self.log("train/loss", loss, prog_bar=True, batch_size=size)
        self.log("train/group_acc", accuracy, batch_size=size)
        self.log("train/texts_encoded_per_step", float(batch.texts_encoded), batch_size=size)
        return loss

    def validation_step(self, batch: ContrastiveBatch, batch_idx: int) -> None:
        loss, accuracy = self.contrastive_loss(batch)
        size = len(batch.query)
        self.log("val/loss", loss, prog_bar=True, sync_dist=True, batch_size=size)
        self.log("val/group_acc", accuracy, sync_dist=True, batch_size=size)

    def configure_optimizers(self) -> dict[str, Any]:
        return build_optimizer(self.parameters(), self.hparams["optim"], int(self.trainer.estimated_stepping_batches))
