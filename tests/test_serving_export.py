"""Export: merged LoRA, HF + sentence-transformers files, the same embeddings everywhere, safe loading."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from sentence_transformers import SentenceTransformer
from transformers import AutoTokenizer, LlamaTokenizer

import jobmatch.serving.export_format as export_format
from jobmatch.model.tokenizer import tokenize
from jobmatch.retrieval.encode import encode_texts, model_fingerprint
from jobmatch.serving.eos import reproduces_append_eos, with_eos_post_processor
from jobmatch.serving.errors import ExportFormatError
from jobmatch.serving.export_format import export_encoder, load_exported, read_export_manifest
from tests.helpers import one_thread
from tests.helpers.serving import TALENTS, tiny_encoder

TEXTS = [t["text"] for t in TALENTS] + ["short", " ".join(["a long profile about chemistry"] * 40)]
LIMIT = 24  # tokens: the long text is truncated


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    with one_thread():
        yield


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def st_embeddings(folder: Path, texts: list[str], batch_size: int = 3) -> np.ndarray:
    model = SentenceTransformer(str(folder), device="cpu")
    return model.encode(texts, batch_size=batch_size, convert_to_numpy=True)


def char_llama_tokenizer(folder: Path, *, flags_in_config: bool = False) -> Path:
    """A Llama (BPE, BOS-template) tokenizer over characters, saved to ``folder``; optionally with
    ``add_bos_token``/``add_eos_token`` in its config, as hub Llama tokenizers have."""
    chars = "abcdefghijklmnopqrstuvwxyz0123456789<>/,.-()"
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2, "▁": 3, **{c: i + 4 for i, c in enumerate(chars)}}
    LlamaTokenizer(vocab=vocab, merges=[], add_bos_token=True).save_pretrained(folder)
    if flags_in_config:
        config = json.loads((folder / "tokenizer_config.json").read_text())
        config.update(add_bos_token=True, add_eos_token=False)
        (folder / "tokenizer_config.json").write_text(json.dumps(config))
    return folder


def test_bert_round_trip_sentence_transformers(tmp_path: Path) -> None:
    encoder = tiny_encoder("tiny_bert", "model.add_markup_tokens=true")
    before = encode_texts(encoder, TEXTS, max_length=LIMIT, progress=False)
    manifest = export_encoder(encoder, tmp_path / "exp", max_query_length=16, max_passage_length=LIMIT,
                              source_checkpoint=None)
    folder = tmp_path / "exp"
    assert manifest.lora_merged and manifest.markup_tokens and manifest.sentence_transformers_exact
    assert json.loads((folder / "1_Pooling" / "config.json").read_text())["pooling_mode_mean_tokens"] is True
    assert json.loads((folder / "sentence_bert_config.json").read_text())["max_seq_length"] == LIMIT
    assert not list(folder.glob("*.bin")) and (folder / "model.safetensors").is_file()
    assert cosines(st_embeddings(folder, TEXTS), before).min() >= 0.9999
    reloaded = load_exported(folder)
    assert not reloaded.uses_lora and "<keyword>" in reloaded.tokenizer.get_vocab()
    assert model_fingerprint(reloaded) == manifest.model_fingerprint
    assert reloaded.cfg["max_query_length"] == 16
    assert cosines(encode_texts(reloaded, TEXTS, max_length=LIMIT, progress=False), before).min() >= 0.9999


def test_llama_last_token_left_padding_round_trip(tmp_path: Path) -> None:
    encoder = tiny_encoder("tiny_llama")
    before = encode_texts(encoder, TEXTS, max_length=LIMIT, progress=False)
    manifest = export_encoder(encoder, tmp_path / "exp", max_query_length=LIMIT, max_passage_length=LIMIT)
    assert manifest.pooling == "last_token" and manifest.padding_side == "left"
    assert json.loads((tmp_path / "exp" / "1_Pooling" / "config.json").read_text())["pooling_mode_lasttoken"]
    assert cosines(st_embeddings(tmp_path / "exp", TEXTS), before).min() >= 0.9999


@pytest.mark.parametrize("flags_in_config", [False, True])
def test_append_eos_reproduced_by_the_exported_tokenizer(tmp_path: Path, flags_in_config: bool) -> None:
    tok_dir = char_llama_tokenizer(tmp_path / "tok", flags_in_config=flags_in_config)
    encoder = tiny_encoder("tiny_llama", f"model.tokenizer={tok_dir}", "model.append_eos=true")
    texts = [t.lower() for t in TEXTS]
    before = encode_texts(encoder, texts, max_length=LIMIT, progress=False)
    manifest = export_encoder(encoder, tmp_path / "exp", max_query_length=LIMIT, max_passage_length=LIMIT)
    assert manifest.append_eos and manifest.tokenizer_appends_eos and manifest.sentence_transformers_exact
    exported = AutoTokenizer.from_pretrained(tmp_path / "exp")
    want = tokenize(encoder.tokenizer, texts, max_length=LIMIT, append_eos=True)
    assert exported(texts, truncation=True, max_length=LIMIT)["input_ids"] == want  # EOS after truncation
    assert max(len(ids) for ids in want) == LIMIT
    assert load_exported(tmp_path / "exp").cfg["append_eos"] is False  # the tokenizer appends it now
    assert cosines(st_embeddings(tmp_path / "exp", texts), before).min() >= 0.9999


def test_append_eos_fallback_when_the_tokenizer_cannot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without an EOS template jobmatch still appends EOS itself; the manifest says other tools differ."""
    monkeypatch.setattr(export_format, "eos_tokenizer_if_exact", lambda *args: None)
    tok_dir = char_llama_tokenizer(tmp_path / "tok")
    encoder = tiny_encoder("tiny_llama", f"model.tokenizer={tok_dir}", "model.append_eos=true")
    texts = [t.lower() for t in TEXTS]
    before = encode_texts(encoder, texts, max_length=LIMIT, progress=False)
    manifest = export_encoder(encoder, tmp_path / "exp", max_query_length=LIMIT, max_passage_length=LIMIT)
    assert not manifest.tokenizer_appends_eos and not manifest.sentence_transformers_exact
    assert "embeddings differ" in (tmp_path / "exp" / "README.md").read_text()
    reloaded = load_exported(tmp_path / "exp")
    assert reloaded.cfg["append_eos"] is True
    assert cosines(encode_texts(reloaded, texts, max_length=LIMIT, progress=False), before).min() >= 0.9999


def test_eos_post_processor_keeps_bos(tmp_path: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(char_llama_tokenizer(tmp_path / "tok", flags_in_config=True))
    patched = with_eos_post_processor(tokenizer)
    patched.save_pretrained(tmp_path / "patched")
    ids = AutoTokenizer.from_pretrained(tmp_path / "patched")("abc")["input_ids"]
    assert ids == [*tokenizer("abc")["input_ids"], tokenizer.eos_token_id]
    assert ids[0] == tokenizer.bos_token_id
    assert reproduces_append_eos(tokenizer, str(tmp_path / "patched"), ["abc", "x" * 50], max_length=8)


def test_export_refuses_to_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "exp"
    export_encoder(tiny_encoder(), out, max_query_length=8, max_passage_length=8)
    with pytest.raises(FileExistsError, match="overwrite=true"):
        export_encoder(tiny_encoder(seed=1), out, max_query_length=8, max_passage_length=8)
    first = read_export_manifest(out).model_fingerprint
    export_encoder(tiny_encoder(seed=1), out, max_query_length=8, max_passage_length=8, overwrite=True)
    assert read_export_manifest(out).model_fingerprint != first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exp"]  # no temporary folders left
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(ExportFormatError, match="not a jobmatch export; refusing"):
        export_encoder(tiny_encoder(), tmp_path / "other", max_query_length=8, max_passage_length=8, overwrite=True)


def test_load_exported_bad_folders(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_exported(tmp_path / "missing")
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "config.json").write_text("{}")
    with pytest.raises(ExportFormatError, match=r"not a jobmatch export .*jobmatch export"):
        load_exported(tmp_path / "plain")
    good = tmp_path / "good"
    export_encoder(tiny_encoder(), good, max_query_length=8, max_passage_length=8)
    manifest = (good / "jobmatch_export.json").read_text()
    (good / "jobmatch_export.json").write_text(manifest[:40])
    with pytest.raises(ExportFormatError, match=r"jobmatch_export\.json: not valid JSON"):
        load_exported(good)
    (good / "jobmatch_export.json").write_text(manifest)
    torch.save({}, good / "pytorch_model.bin")
    with pytest.raises(ExportFormatError, match="pickle weight files"):
        load_exported(good)
    (good / "pytorch_model.bin").unlink()
    config = json.loads((good / "config.json").read_text())
    (good / "config.json").write_text(json.dumps({**config, "auto_map": {"AutoModel": "x.Model"}}))
    with pytest.raises(ExportFormatError, match="remote code"):
        load_exported(good)
