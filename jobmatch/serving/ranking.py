"""Rank indexed talents for job descriptions: JD input, one loaded model, readable or JSON output."""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from jobmatch.data.readers import DataFormatError, decode_utf8, read_utf8
from jobmatch.model import TextEncoder
from jobmatch.model.tokenizer import tokenize
from jobmatch.retrieval.encode import encode_texts
from jobmatch.serving.errors import InputError
from jobmatch.serving.export_format import load_exported, read_export_manifest
from jobmatch.serving.index_store import TalentIndex

log = logging.getLogger(__name__)

TAG = re.compile(r"</?[a-z]+>")
FILE_SUFFIXES = (".txt", ".jsonl", ".json")
RELEASE_EVERY = 256  # JDs ranked between releases of the talents file's resident pages


@dataclass(frozen=True)
class JD:
    """A job description to rank talents for; ``source`` says where it came from (``FILE:LINE``)."""

    id: str
    text: str
    source: str


@dataclass(frozen=True)
class Hit:
    """One ranked talent."""

    rank: int
    id: str
    score: float
    snippet: str


@dataclass(frozen=True)
class RankedJD:
    """The ranked talents of one JD and the time it took (tokenise, encode, search)."""

    jd: JD
    hits: list[Hit]
    latency_ms: float


def snippet(text: str, chars: int) -> str:
    """The start of a profile as one readable line: ``<sep>`` as ``;``, other markup dropped."""
    flat = " ".join(TAG.sub(" ", text.replace("<sep>", "; ")).split()).replace(" ;", ";")
    return flat if len(flat) <= chars else flat[: max(chars - 1, 1)].rstrip() + "…"


def _jds_from_lines(lines: list[str], source: str) -> list[JD]:
    """One JD per non-blank line, or JSONL objects with ``query`` (and optional ``query_id``/``id``)."""
    first = next((line for line in lines if line.strip()), "")
    jsonl = source.endswith((".jsonl", ".json")) or first.lstrip().startswith("{")
    jds = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        if not jsonl:
            jds.append(JD(f"jd{number}", line.strip(), f"{source}:{number}"))
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            raise DataFormatError(source, number, f"not valid JSON ({err.msg} at column {err.colno})") from None
        if not isinstance(obj, dict) or "query" not in obj:
            raise DataFormatError(source, number, "expected a JSON object with the JD text in 'query'")
        if not isinstance(obj["query"], str) or not obj["query"].strip():
            raise DataFormatError(source, number, "empty JD text ('query')")
        jd_id = obj.get("query_id", obj.get("id", f"jd{number}"))
        jds.append(JD(str(jd_id), obj["query"], f"{source}:{number}"))
    if not jds:
        raise DataFormatError(source, 0, "no JDs in file (one per line, or JSONL with 'query')")
    return jds


def _lines(content: str) -> list[str]:
    """Lines split at newlines only (``str.splitlines`` would also split at U+2028 inside JSON strings)."""
    return [line.rstrip("\r") for line in content.split("\n")]


def _is_file(text: str) -> bool:
    try:
        return len(text) < 4096 and Path(text).is_file()
    except (OSError, ValueError):  # not a possible path (e.g. a NUL character)
        return False


def read_jds(jd: str) -> list[JD]:
    """JDs from ``jd``: a file (one JD per line, or JSONL with ``query``), ``-`` (stdin), or the JD text.

    Raises:
        InputError: empty JD text.
        FileNotFoundError: ``jd`` looks like a file name but there is no such file.
        DataFormatError: a bad line of a JD file (``FILE:LINE: problem``).
    """
    if jd == "-":
        return _jds_from_lines(_lines(decode_utf8(sys.stdin.buffer.read(), "<stdin>")), "<stdin>")
    text = str(jd).strip()
    if not text:
        raise InputError("jd is empty: give a job description text, a file (one JD per line, or JSONL with "
                         "'query'), or - for stdin")
    if _is_file(text):
        return _jds_from_lines(_lines(read_utf8(text)), text)
    if text.endswith(FILE_SUFFIXES) and " " not in text:
        raise FileNotFoundError(f"jd={text}: no such file")
    return [JD("jd", text, "jd argument")]


class Ranker:
    """A loaded model and talent index: ranks JDs one at a time (the model is loaded once)."""

    def __init__(self, encoder: TextEncoder, index: TalentIndex, *, max_query_length: int,
                 device: torch.device | str = "cpu", bf16: bool = False, snippet_chars: int = 80) -> None:
        self.encoder, self.index = encoder, index
        self.max_query_length = max_query_length
        self.device, self.bf16, self.snippet_chars = torch.device(device), bf16, snippet_chars
        self.extra_tokens = 1 if encoder.cfg.get("append_eos") else 0
        self._ranked = 0

    @classmethod
    def open(cls, index_dir: str | Path, model_dir: str | Path | None = None, *, device: torch.device | str = "cpu",
             bf16: bool = False, snippet_chars: int = 80) -> Ranker:
        """Load the index and its model (``model_dir``, default: the export that built the index).

        Raises:
            IndexStoreError: missing or corrupt index.
            ModelMismatchError: ``model_dir`` is not the model that built the index.
            ExportFormatError: the model folder is not an export.
        """
        index = TalentIndex.load(index_dir)
        if model_dir is None and not Path(index.manifest.model_path).exists():
            raise FileNotFoundError(f"the export that built index {index_dir}, {index.manifest.model_path}, is gone; "
                                    "pass model=EXPORT_FOLDER (the same export, moved)")
        model_dir = Path(model_dir or index.manifest.model_path)
        export = read_export_manifest(model_dir)
        index.check_model(export.model_fingerprint, model_dir, where=str(index_dir))
        encoder = load_exported(model_dir, device)
        ranker = cls(encoder, index, max_query_length=export.max_query_length, device=device, bf16=bf16,
                     snippet_chars=snippet_chars)
        ranker.rank(JD("warmup", "warm-up query", "warm-up"), 1)  # first forward pays one-off set-up costs
        return ranker

    def is_truncated(self, text: str) -> bool:
        """Whether the model reads only a prefix of ``text``: tokenised to one token beyond the limit, never whole
        (a JD of thousands of tokens costs what one of the limit costs)."""
        ids = tokenize(self.encoder.tokenizer, [text], max_length=self.max_query_length + 1,
                       append_eos=bool(self.extra_tokens))[0]
        return len(ids) > self.max_query_length

    def rank(self, jd: JD, k: int) -> RankedJD:
        """The top-k talents of one JD (fewer when the index holds fewer); warns when the JD is truncated."""
        if k < 1:
            raise InputError(f"k must be >= 1, got {k}")
        start = time.perf_counter()
        if self.is_truncated(jd.text):
            log.warning("JD %s (%s) has more than %d tokens; the model reads at most %d (max_query_length of the "
                        "export): the rest is truncated", jd.id, jd.source, self.max_query_length,
                        self.max_query_length)
        query = encode_texts(self.encoder, [jd.text], max_length=self.max_query_length, batch_size=1,
                             bf16=self.bf16, device=self.device, progress=False)  # [1, D]
        scores, rows = self.index.search(query, k)  # [1, k'] each
        found = [(float(score), int(row)) for score, row in zip(scores[0], rows[0], strict=True) if row >= 0]
        picks = [row for _, row in found]
        ids, texts = self.index.ids_of(picks), self.index.texts(picks)  # read by row from the talents file
        latency_ms = (time.perf_counter() - start) * 1000
        hits = [Hit(rank, tid, score, snippet(text, self.snippet_chars))
                for rank, ((score, _), tid, text) in enumerate(zip(found, ids, texts, strict=True), start=1)]
        self._ranked += 1
        if self._ranked % RELEASE_EVERY == 0:
            self.index.talents.release()  # pages of texts read so far leave this process (not the page cache)
        return RankedJD(jd, hits, latency_ms)


def format_table(result: RankedJD, snippet_chars: int = 80) -> str:
    """A readable table: a JD header line, then rank, id, score and a profile snippet per talent."""
    id_width = max([len("id"), *(len(h.id) for h in result.hits)])
    lines = [f"JD {result.jd.id} ({result.jd.source}): {snippet(result.jd.text, snippet_chars)}",
             f"{'rank':>4}  {'id':<{id_width}}  {'score':>7}  profile"]
    lines += [f"{h.rank:>4}  {h.id:<{id_width}}  {h.score:>7.4f}  {h.snippet}" for h in result.hits]
    return "\n".join(lines)


def format_json(result: RankedJD) -> str:
    """One JSON object (a single line) per JD: its id, source, text and ranked talents."""
    return json.dumps({
        "jd_id": result.jd.id, "source": result.jd.source, "jd": result.jd.text,
        "results": [{"rank": h.rank, "id": h.id, "score": round(h.score, 6), "snippet": h.snippet}
                    for h in result.hits],
    }, ensure_ascii=False)


def latency_summary(latencies_ms: list[float]) -> dict[str, float]:
    """Median, p90 and max latency in milliseconds."""
    values = np.asarray(latencies_ms)
    return {"median_ms": float(np.median(values)), "p90_ms": float(np.percentile(values, 90)),
            "max_ms": float(values.max())}
