"""model.attention_dropout: null keeps the backbone's attention-probs dropout, a float overrides it."""

from pathlib import Path

import pytest
import torch
from transformers import BertConfig, BertModel

from jobmatch.app.builders import container
from jobmatch.model import TextEncoder
from tests.helpers import compose_config


def _attention_dropouts(encoder: TextEncoder) -> set[float]:
    """The p of every BERT self-attention's dropout (the one SDPA receives in training mode)."""
    return {m.dropout.p for m in encoder.modules() if type(m).__name__.endswith("SelfAttention")}


def _cfg(tmp_path: Path, *overrides: str) -> dict:
    return container(compose_config(["model=tiny_bert", *overrides], run_dir=tmp_path).model)


def test_null_keeps_the_backbone_value(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path)
    assert cfg["attention_dropout"] is None
    encoder = TextEncoder(cfg)
    assert encoder.backbone.config.attention_probs_dropout_prob == BertConfig().attention_probs_dropout_prob == 0.1
    assert _attention_dropouts(encoder) == {0.1}


def test_override_reaches_the_backbone_config_and_modules(tmp_path: Path) -> None:
    encoder = TextEncoder(_cfg(tmp_path, "model.attention_dropout=0.0"))
    assert encoder.uses_lora
    assert encoder.backbone.config.attention_probs_dropout_prob == 0.0
    assert _attention_dropouts(encoder) == {0.0}
    assert encoder.backbone.config.hidden_dropout_prob == 0.1  # only the attention dropout changes


def test_override_of_pretrained_weights(tmp_path: Path) -> None:
    """The from_pretrained path: the override reaches the loaded config, the weights are the saved ones."""
    torch.manual_seed(0)
    saved = BertModel(BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64))
    saved.save_pretrained(tmp_path / "bert")
    cfg = _cfg(tmp_path, f"model.name_or_path={tmp_path / 'bert'}", "model.config=null", "model.lora.enabled=false")
    for value, expected in ((None, 0.1), (0.0, 0.0), (0.2, 0.2)):
        encoder = TextEncoder({**cfg, "attention_dropout": value})
        assert encoder.backbone.config.attention_probs_dropout_prob == expected
        assert _attention_dropouts(encoder) == {expected}
        assert encoder.backbone.config._attn_implementation == "sdpa"
        weight = encoder.backbone.embeddings.word_embeddings.weight
        assert torch.equal(weight, saved.embeddings.word_embeddings.weight)


def test_llama_key_and_bad_values(tmp_path: Path) -> None:
    encoder = TextEncoder(container(compose_config(["model=tiny_llama", "model.attention_dropout=0.1"]).model))
    assert encoder.backbone.config.attention_dropout == 0.1
    with pytest.raises(ValueError, match="attention_dropout"):
        TextEncoder(_cfg(tmp_path, "model.attention_dropout=1.5"))


def _hidden_dropouts(encoder: TextEncoder) -> set[float]:
    """The p of every dropout on BERT hidden states (embeddings, attention output, feed-forward output)."""
    return {m.dropout.p for m in encoder.modules()
            if type(m).__name__ in ("BertEmbeddings", "BertSelfOutput", "BertOutput")}


def test_hidden_dropout_null_keeps_and_float_overrides(tmp_path: Path) -> None:
    kept = TextEncoder(_cfg(tmp_path))
    assert _cfg(tmp_path)["hidden_dropout"] is None
    assert _hidden_dropouts(kept) == {0.1}
    encoder = TextEncoder(_cfg(tmp_path, "model.hidden_dropout=0.0"))
    assert encoder.backbone.config.hidden_dropout_prob == 0.0
    assert _hidden_dropouts(encoder) == {0.0}
    assert _attention_dropouts(encoder) == {0.1}  # only the hidden dropout changes


def test_hidden_dropout_of_pretrained_weights_and_llama(tmp_path: Path) -> None:
    saved = BertModel(BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64))
    saved.save_pretrained(tmp_path / "bert")
    cfg = _cfg(tmp_path, f"model.name_or_path={tmp_path / 'bert'}", "model.config=null", "model.lora.enabled=false")
    encoder = TextEncoder({**cfg, "hidden_dropout": 0.0, "attention_dropout": 0.0})
    assert _hidden_dropouts(encoder) == _attention_dropouts(encoder) == {0.0}
    # Llama has no hidden dropout: 0 is what it already does, a positive value is refused
    TextEncoder(container(compose_config(["model=tiny_llama", "model.hidden_dropout=0.0"]).model))
    with pytest.raises(ValueError, match="hidden_dropout"):
        TextEncoder(container(compose_config(["model=tiny_llama", "model.hidden_dropout=0.1"]).model))
    with pytest.raises(ValueError, match="hidden_dropout"):
        TextEncoder(_cfg(tmp_path, "model.hidden_dropout=1.0"))
