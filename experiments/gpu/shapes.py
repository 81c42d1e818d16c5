"""What the GPU check runs on: Llama-3.2-1B's architecture (random weights), a word-level tokenizer of its
vocabulary size, the paper's text lengths, and token ids / texts of exact lengths (no weights, no network).

Every text is a run of words ``w<id>`` and the tokenizer maps each word to one id, so that a text of n
words is n tokens: the check controls every length exactly, as the real tokenizer would not.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

# Llama-3.2-1B (meta-llama/Llama-3.2-1B config.json), built from the config with random weights.
LLAMA_1B: dict[str, Any] = {
    "model_type": "llama", "hidden_size": 2048, "num_hidden_layers": 16, "num_attention_heads": 32,
    "num_key_value_heads": 8, "head_dim": 64, "intermediate_size": 8192, "vocab_size": 128256,
    "max_position_embeddings": 131072, "rope_theta": 500000.0, "rms_norm_eps": 1e-5, "tie_word_embeddings": True,
}
# The same family, tiny: the CPU mode (--tiny) that CI runs.
LLAMA_TINY: dict[str, Any] = {
    "model_type": "llama", "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
    "num_key_value_heads": 1, "intermediate_size": 64, "vocab_size": 1000, "max_position_embeddings": 512,
}
LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
EOS = "<|end_of_text|>"


@dataclass(frozen=True)
class Shapes:
    """Sizes of one check: the model, the two length settings and the batches timed at each."""

    tiny: bool
    model: dict[str, Any]
    lengths: dict[str, tuple[int, int]]  # name -> (JD tokens, talent tokens)
    stage1_batch: dict[str, int]  # name -> JDs per step (each with 1 positive + NEGATIVES talents)
    stage2_batch: dict[str, int]  # name -> judged pairs per step (each JD with its 2 talents)
    negatives: int = 3
    warmup_steps: int = 1
    timed_steps: int = 2
    max_batch_limit: int = 64
    talent_spread: tuple[int, int, int] = (754, 3500, 9103)  # min, median, max tokens (the authors' sample)
    corpus_texts: int = 256
    pairs: int = 64
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def device(self) -> str:
        return "cpu" if self.tiny else "cuda"

    @property
    def precision(self) -> str:
        return "32-true" if self.tiny else "bf16-mixed"


def gpu_shapes() -> Shapes:
    return Shapes(tiny=False, model=LLAMA_1B, lengths={"paper": (1280, 4096), "512": (512, 512)},
                  stage1_batch={"paper": 2, "512": 8}, stage2_batch={"paper": 4, "512": 16})


def tiny_shapes() -> Shapes:
    return Shapes(tiny=True, model=LLAMA_TINY, lengths={"paper": (40, 128), "512": (16, 16)},
                  stage1_batch={"paper": 2, "512": 4}, stage2_batch={"paper": 2, "512": 4}, timed_steps=1,
                  max_batch_limit=2, talent_spread=(24, 64, 200), corpus_texts=12, pairs=8,
                  extra={"padding_batches": 2})


def build_tokenizer(folder: Path, vocab_size: int) -> str:
    """A word-level fast tokenizer with ``vocab_size`` ids (``w0`` ... and EOS) saved in ``folder``; its path."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {f"w{i}": i for i in range(vocab_size - 1)}
    vocab[EOS] = vocab_size - 1
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token=EOS))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=EOS, pad_token=EOS, unk_token=EOS)
    folder.mkdir(parents=True, exist_ok=True)
    fast.save_pretrained(str(folder))
    config = folder / "tokenizer_config.json"
    data = json.loads(config.read_text())
    data["tokenizer_class"] = "PreTrainedTokenizerFast"
    config.write_text(json.dumps(data))
    return str(folder)


def model_config(shapes: Shapes, tokenizer: str, *, lora: bool, gc: bool) -> dict[str, Any]:
    """The jobmatch model config (``conf/model/*.yaml`` keys) of the check's model."""
    return {
        "name_or_path": None, "tokenizer": tokenizer, "config": copy.deepcopy(shapes.model),
        "pooling": "last_token", "normalize": True, "padding_side": "left", "append_eos": True,
        "add_markup_tokens": not shapes.tiny,  # the paper's markup tokens: 128256 -> 128263 rows, as with Llama's
        "dtype": "float32" if shapes.tiny else "bfloat16", "attn_implementation": "sdpa", "attention_dropout": None,
        "gradient_checkpointing": gc, "compile": None, "trust_remote_code": False, "gguf_file": None,
        "lora": {"enabled": lora, "r": 16, "alpha": 32, "dropout": 0.0, "target_modules": LORA_TARGETS},
    }


def random_ids(rng: np.random.Generator, length: int, vocab: int, eos: int) -> list[int]:
    """``length`` token ids ending with EOS (what ``append_eos`` tokenisation gives)."""
    return [*rng.integers(0, vocab - 1, size=length - 1).tolist(), eos]


def words(rng: np.random.Generator, length: int, vocab: int) -> str:
    """A text of exactly ``length`` tokens under :func:`build_tokenizer`'s tokenizer."""
    return " ".join(f"w{i}" for i in rng.integers(0, vocab - 1, size=length))


def talent_lengths(rng: np.random.Generator, n: int, spread: tuple[int, int, int], limit: int) -> np.ndarray:
    """[n] talent lengths: log-normal with the sample's median, clipped to its range, then cut at ``limit``
    (the training limit, 4,096 in the paper)."""
    low, median, high = spread
    sigma = np.log(high / median) / 2.0  # the sample's maximum ~2 sigma above the median
    lengths = np.exp(rng.normal(np.log(median), sigma, size=n))
    return np.minimum(np.clip(lengths, low, high), limit).astype(int)
