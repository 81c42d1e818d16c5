"""Writing a market's files in one pass, with texts on disk: memory grows with attributes, not texts.

Talents are rendered one at a time and written to ``corpus.jsonl`` at once; the world keeps only
their attributes (what the rules read). Kept postings' texts go to a spill file in the same
directory. Rows, figures and the judge read texts back by offset (:class:`store.JsonlFile`). The
bytes written are independent of this streaming: a config gives the same files as ever.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from jobmatch.data.records import ContrastiveRecord
from jobmatch.data.synthetic import measure
from jobmatch.data.synthetic.card import render_card
from jobmatch.data.synthetic.config import GENERATOR_VERSION, SyntheticConfig
from jobmatch.data.synthetic.entities import JD, Talent
from jobmatch.data.synthetic.labels import OOD_SPLIT, SPLITS, Row, label_row, split_jds
from jobmatch.data.synthetic.long_text import long_texts
from jobmatch.data.synthetic.places import build_institutions
from jobmatch.data.synthetic.seeding import rng_for
from jobmatch.data.synthetic.store import JsonlFile
from jobmatch.data.synthetic.vocabulary import load_vocabulary
from jobmatch.data.synthetic.world import World, draw_postings, draw_talents

MANIFEST = "manifest.json"
CARD = "dataset_card.md"
CORPUS = "corpus.jsonl"
JD_SPILL = ".jds.jsonl"  # kept postings' texts while the market is written (removed at the end)
PROGRESS_FROM = 20_000  # show progress bars for markets of at least this many talents


def vocabulary_digest(config: SyntheticConfig) -> str:
    """The digest of the package data a config's texts are drawn from (the long templates when real-length)."""
    digest = load_vocabulary().digest
    return digest if config.profile_length == "short" else f"{digest}+{long_texts().digest}"


def write_market(config: SyntheticConfig, directory: Path) -> None:
    """Write every file of the dataset of ``config`` into the (empty) ``directory``."""
    vocab = load_vocabulary()
    institutions = build_institutions(vocab, rng_for(config.seed, "institutions"))
    show = config.n_talents >= PROGRESS_FROM
    with JsonlFile(directory / CORPUS) as corpus, JsonlFile(directory / JD_SPILL) as spill:
        talents, words, groups = _write_corpus(config, vocab, institutions, corpus, show)
        corpus.close()

        def keep(jd: JD) -> JD:
            spill.write({"text": jd.text}, key=jd.id)
            return dataclasses.replace(jd, text="")

        world = draw_postings(config, vocab, institutions, talents, keep=keep, progress=show)
        spill.close()
        files: dict[str, dict[str, Any]] = {}
        splits = {**split_jds(world), OOD_SPLIT: world.ood_jds}
        rows: dict[str, list[Row]] = {}
        for name in (*SPLITS, OOD_SPLIT):
            rows[name] = _write_rows(world, splits[name], directory / f"{name}.jsonl", corpus, spill, files, show)
        files[CORPUS] = {"rows": corpus.rows, "bytes": corpus.bytes, "sha256": corpus.sha256}
        in_distribution = {name: rows[name] for name in SPLITS}
        figures = _figures(world, in_distribution, corpus, spill, words, groups)
        figures["sizes"][OOD_SPLIT] = len(rows[OOD_SPLIT])
        figures["ood"] = {"attribute": "subfield", "subfields": list(config.ood_subfields),
                          "positives": measure.positives_figures({OOD_SPLIT: rows[OOD_SPLIT]})}
    (directory / JD_SPILL).unlink()
    digest = vocabulary_digest(config)
    fp = config.fingerprint(digest)
    card = render_card(config, fp, figures)
    (directory / CARD).write_text(card, encoding="utf-8")
    files[CARD] = {}
    data = card.encode("utf-8")
    files[CARD].update(bytes=len(data), sha256=hashlib.sha256(data).hexdigest())
    manifest = {
        "generator": "jobmatch.data.synthetic",
        "generator_version": GENERATOR_VERSION,
        "vocabulary_digest": digest,
        "fingerprint": fp,
        "config": config.to_dict(),
        "files": files,
        "figures": figures,
    }
    text = json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    (directory / MANIFEST).write_text(text, encoding="utf-8")


def _write_corpus(
    config: SyntheticConfig, vocab: Any, institutions: Any, corpus: JsonlFile, show: bool
) -> tuple[list[Talent], list[int], list[tuple[str, str]]]:
    """Render and write every talent; keep its attributes (no text), its word count and identity groups."""
    talents: list[Talent] = []
    words: list[int] = []
    groups: list[tuple[str, str]] = []
    for talent in tqdm(draw_talents(config, vocab, institutions), total=config.n_talents, desc="talents",
                       unit="talent", disable=not show, mininterval=2.0):
        corpus.write(_corpus_row(talent), key=talent.id)
        words.append(len(talent.text.split()))
        if talent.identity is not None:
            groups.append((talent.identity.gender, talent.identity.origin))
        talents.append(dataclasses.replace(talent, text="", publications=(), identity=None))
    return talents, words, groups


def _write_rows(
    world: World,
    jds: tuple[JD, ...],
    path: Path,
    corpus: JsonlFile,
    spill: JsonlFile,
    files: dict[str, dict[str, Any]],
    show: bool,
) -> list[Row]:
    """Label each posting and write its row (texts inline, or ids only); returns the rows by id."""
    rows: list[Row] = []
    with JsonlFile(path) as out:
        for jd in tqdm(jds, desc=path.stem, unit="JD", disable=not show, mininterval=2.0):
            row = label_row(world, jd)
            rows.append(row)
            out.write(_row_json(world.config, row, corpus, spill))
        out.close()
        files[path.name] = {"rows": out.rows, "bytes": out.bytes, "sha256": out.sha256}
    return rows


def _row_json(config: SyntheticConfig, row: Row, corpus: JsonlFile, spill: JsonlFile) -> dict[str, Any]:
    if config.inline_texts:
        return ContrastiveRecord(
            query=spill.text(row.query_id),
            positives=tuple(corpus.text(i) for i in row.positive_ids),
            negatives=tuple(corpus.text(i) for i in row.negative_ids),
            query_id=row.query_id,
            positive_ids=row.positive_ids,
            negative_ids=row.negative_ids,
        ).to_json()
    return {
        "query_id": row.query_id,
        "query": spill.text(row.query_id),
        "positive_ids": list(row.positive_ids),
        "negative_ids": list(row.negative_ids),
    }


def _corpus_row(talent: Talent) -> dict[str, str]:
    """``{id, text}``, plus ``name``, ``gender`` and ``origin`` when the profile shows an identity."""
    row = {"id": talent.id, "text": talent.text}
    if talent.identity is not None:
        i = talent.identity
        row.update(name=i.name, gender=i.gender, origin=i.origin)
    return row


def _figures(
    world: World,
    rows: dict[str, list[Row]],
    corpus: JsonlFile,
    spill: JsonlFile,
    talent_words: list[int],
    groups: list[tuple[str, str]],
) -> dict[str, Any]:
    config = world.config
    tokenizer = measure.load_counting_tokenizer(config.tokenizer)
    jd_ids = [j.id for j in world.jds]
    talent_ids = [t.id for t in world.talents]
    jd_words = [len(spill.text(i).split()) for i in jd_ids]
    figures: dict[str, Any] = {
        "sizes": {
            "talents": len(world.talents),
            "jds": len(world.jds),
            **{name: len(rows[name]) for name in SPLITS},
            "candidates_drawn": world.candidates_drawn,
            "rejected_without_positive": world.rejected_without_positive,
            "rejected_too_many": world.rejected_too_many,
        },
        "positives": measure.positives_figures(rows),
        "negatives": measure.negatives_figures(world, rows),
        "lengths": {
            "jds": measure.token_figures(lambda k: spill.text(jd_ids[k]), len(jd_ids), tokenizer,
                                         config.query_max_length, seed=config.seed, name="jds"),
            "talents": measure.token_figures(lambda k: corpus.text(talent_ids[k]), len(talent_ids), tokenizer,
                                             config.passage_max_length, seed=config.seed, name="talents"),
            "words": {"jds": measure.summary(jd_words), "talents": measure.summary(talent_words)},
        },
        "judge": measure.judge_figures(world, rows, spill.text, corpus.text),
        "identities": measure.identity_figures(groups),
    }
    if config.labels == "sampled":
        figures["labels"] = measure.label_figures(world)
    return figures
