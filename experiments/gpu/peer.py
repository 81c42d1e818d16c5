"""The same stage-1 step through sentence-transformers' trainer (the peer), at the same shapes.

The peer trains the very backbone jobmatch trains (the random Llama weights saved to a folder with the
check's tokenizer), with peft LoRA on the same projections, bf16 autocast (``bf16=True``), AdamW at the same
learning rate, gradient clipping at 1.0, ``MultipleNegativesRankingLoss`` at scale 1/τ (InfoNCE with in-batch
negatives: the same loss) on (anchor, positive, negative_1..n) columns of texts whose token counts are the
check's lengths. Its pooling is its default for a plain model folder (mean: a negligible cost either way).
Needs ``datasets`` (a training dependency of sentence-transformers).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from experiments.gpu.shapes import LORA_TARGETS, Shapes, words


def st_step(backbone: torch.nn.Module, tokenizer: Any, shapes: Shapes, lengths: tuple[int, int], batch: int,
            gc: bool, vocab: int) -> dict[str, Any]:
    """Median seconds and tokens/s of the peer's steps (after the warm-up steps)."""
    from datasets import Dataset
    from peft import LoraConfig, get_peft_model
    from sentence_transformers import (
        SentenceTransformer,
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
        losses,
    )
    from transformers import TrainerCallback

    steps = shapes.warmup_steps + shapes.timed_steps
    rng = np.random.default_rng(5)
    jd_len, talent_len = lengths
    columns: dict[str, list[str]] = {"anchor": [words(rng, jd_len - 1, vocab) for _ in range(batch * steps)]}
    for name in ["positive", *(f"negative_{i + 1}" for i in range(shapes.negatives))]:
        columns[name] = [words(rng, talent_len - 1, vocab) for _ in range(batch * steps)]
    seconds: list[float] = []

    class Clock(TrainerCallback):
        def on_step_begin(self, *args: Any, **kwargs: Any) -> None:
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            self.start = time.perf_counter()

        def on_step_end(self, *args: Any, **kwargs: Any) -> None:
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            seconds.append(time.perf_counter() - self.start)

    with tempfile.TemporaryDirectory(prefix="gpu-check-st-") as tmp:
        folder = Path(tmp) / "model"
        backbone.save_pretrained(str(folder))
        tokenizer.save_pretrained(str(folder))
        dtype = torch.float32 if shapes.tiny else torch.bfloat16
        model = SentenceTransformer(str(folder), device=shapes.device,
                                    model_kwargs={"dtype": dtype, "attn_implementation": "sdpa"})
        model.max_seq_length = max(jd_len, talent_len)
        transformer = model[0]
        inner = "model" if hasattr(transformer, "model") else "auto_model"
        if gc:  # on the HF model itself: the trainer's own switch fails with sentence-transformers 6.0 and
            # transformers 5.17 (BaseModel.gradient_checkpointing_enable() takes no every_n_layers)
            from jobmatch.model.encoder import enable_activation_checkpointing

            enable_activation_checkpointing(getattr(transformer, inner))
        setattr(transformer, inner, get_peft_model(getattr(transformer, inner), LoraConfig(
            r=16, lora_alpha=32, lora_dropout=0.0, target_modules=LORA_TARGETS, bias="none")))
        args = SentenceTransformerTrainingArguments(
            output_dir=str(Path(tmp) / "out"), per_device_train_batch_size=batch, max_steps=steps,
            learning_rate=1e-5, weight_decay=0.0, warmup_steps=0, max_grad_norm=1.0, optim="adamw_torch",
            bf16=not shapes.tiny, use_cpu=shapes.tiny, report_to="none",
            save_strategy="no", eval_strategy="no", logging_steps=10_000, disable_tqdm=True,
            dataloader_num_workers=0, seed=0)
        trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=Dataset.from_dict(columns),
                                             loss=losses.MultipleNegativesRankingLoss(model, scale=50.0),
                                             callbacks=[Clock()])
        trainer.train()
        del trainer, model
    timed = seconds[shapes.warmup_steps:]
    step = float(np.median(timed))
    tokens = batch * (jd_len + (1 + shapes.negatives) * talent_len)
    return {"step_s": round(step, 4), "tokens_per_s": round(tokens / step, 1), "steps": len(seconds)}
