"""Writing a synthetic dataset to disk, atomically, and reusing it when it is already there.

Layout of a dataset directory:

- ``train.jsonl``, ``val.jsonl``, ``test.jsonl``: contrastive rows ``{query, positives, negatives}``
  with ``query_id``, ``positive_ids``, ``negative_ids``; val/test positives are the qrels;
- ``test_ood.jsonl``: the same for the out-of-distribution postings (subfields no other split asks for);
- ``corpus.jsonl``: ``{"id", "text"}`` per talent (the retrieval corpus);
- ``manifest.json``: the config, its fingerprint, the generator version, file sizes/rows/hashes and
  the figures of the card;
- ``dataset_card.md``: the figures for people.

Everything is written into a temporary sibling directory that is renamed into place at the end,
so an interrupted run leaves no half-written dataset.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from jobmatch.data.readers import write_jsonl
from jobmatch.data.records import ContrastiveRecord
from jobmatch.data.synthetic import measure
from jobmatch.data.synthetic.card import render_card
from jobmatch.data.synthetic.config import GENERATOR_VERSION, SyntheticConfig
from jobmatch.data.synthetic.entities import Talent
from jobmatch.data.synthetic.labels import OOD_SPLIT, SPLITS, contrastive_row, split_jds
from jobmatch.data.synthetic.vocabulary import load_vocabulary
from jobmatch.data.synthetic.world import World, build_world
from jobmatch.errors import UserError

MANIFEST = "manifest.json"
CARD = "dataset_card.md"
CORPUS = "corpus.jsonl"


class DatasetMismatchError(UserError, ValueError):
    """The target directory holds something other than the requested dataset."""


def fingerprint(config: SyntheticConfig) -> str:
    """The fingerprint a dataset of ``config`` carries in its manifest."""
    return config.fingerprint(load_vocabulary().digest)


def read_manifest(out_dir: str | Path) -> dict[str, Any] | None:
    """The manifest of a dataset directory, or ``None`` when there is none."""
    path = Path(out_dir) / MANIFEST
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def generate_dataset(config: SyntheticConfig, out_dir: str | Path, *, overwrite: bool = False) -> Path:
    """Generate the dataset of ``config`` into ``out_dir`` and return ``out_dir``.

    Raises:
        FileExistsError: ``out_dir`` exists and is not empty (pass ``overwrite=True`` to replace a
            dataset, or use :func:`ensure_dataset` to reuse one).
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()) and not overwrite:
        raise FileExistsError(
            f"{out_dir} exists and is not empty; use ensure_dataset() to reuse a dataset, pass "
            "overwrite=True to replace it, or choose another directory"
        )
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    tmp.chmod(0o755)  # mkdtemp makes it private; a dataset is meant to be shared
    try:
        _write_all(config, tmp)
        _move_into_place(tmp, out_dir, overwrite=overwrite)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir


def ensure_dataset(config: SyntheticConfig, out_dir: str | Path) -> Path:
    """Return ``out_dir`` holding the dataset of ``config``, generating it only if it is absent.

    Raises:
        DatasetMismatchError: ``out_dir`` holds a dataset of another config, or other files.
    """
    out_dir = Path(out_dir)
    manifest = read_manifest(out_dir)
    if manifest is None:
        if out_dir.exists() and any(out_dir.iterdir()):
            raise DatasetMismatchError(
                f"{out_dir} is not empty and has no {MANIFEST}: it is not a synthetic dataset; "
                "choose another directory or delete it"
            )
        try:
            return generate_dataset(config, out_dir)
        except FileExistsError:  # another process (e.g. a DDP rank) finished it first
            manifest = read_manifest(out_dir)
            if manifest is None:
                raise
    _check_manifest(config, out_dir, manifest)
    return out_dir


def _check_manifest(config: SyntheticConfig, out_dir: Path, manifest: dict[str, Any]) -> None:
    expected = fingerprint(config)
    if manifest.get("fingerprint") != expected:
        raise DatasetMismatchError(
            f"{out_dir} holds a synthetic dataset with fingerprint {manifest.get('fingerprint')} "
            f"(generator {manifest.get('generator_version')}), but this config has {expected}; "
            "choose another directory for this config or delete the old dataset"
        )
    missing = [name for name in manifest.get("files", {}) if not (out_dir / name).is_file()]
    if missing:
        raise DatasetMismatchError(f"{out_dir} lacks {missing}; delete the directory to regenerate it")


def _move_into_place(tmp: Path, out_dir: Path, *, overwrite: bool) -> None:
    if out_dir.exists() and not any(out_dir.iterdir()):
        out_dir.rmdir()
    if not out_dir.exists():
        try:
            tmp.rename(out_dir)
            return
        except OSError as err:  # appeared meanwhile
            raise FileExistsError(f"{out_dir} appeared while generating") from err
    if not overwrite:
        raise FileExistsError(f"{out_dir} appeared while generating")
    old = out_dir.with_name(f".{out_dir.name}.old-{tmp.name}")
    out_dir.rename(old)
    tmp.rename(out_dir)
    shutil.rmtree(old, ignore_errors=True)


def _write_all(config: SyntheticConfig, directory: Path) -> None:
    vocab = load_vocabulary()
    world = build_world(config, vocab)
    splits = split_jds(world)
    rows = {name: [contrastive_row(world, jd) for jd in splits[name]] for name in SPLITS}
    files: dict[str, dict[str, Any]] = {}
    ood_rows = [contrastive_row(world, jd) for jd in world.ood_jds]
    for name, split_rows in (*((n, rows[n]) for n in SPLITS), (OOD_SPLIT, ood_rows)):
        write_jsonl(directory / f"{name}.jsonl", (r.to_json() for r in split_rows))
        files[f"{name}.jsonl"] = {"rows": len(split_rows)}
    write_jsonl(directory / CORPUS, (_corpus_row(t) for t in world.talents))
    files[CORPUS] = {"rows": len(world.talents)}
    figures = _figures(world, rows)  # of the in-distribution splits, as before the OOD split existed
    figures["sizes"][OOD_SPLIT] = len(ood_rows)
    figures["ood"] = {"attribute": "subfield", "subfields": list(config.ood_subfields),
                      "positives": measure.positives_figures({OOD_SPLIT: ood_rows})}
    fp = config.fingerprint(vocab.digest)
    (directory / CARD).write_text(render_card(config, fp, figures), encoding="utf-8")
    files[CARD] = {}
    for name, info in files.items():
        data = (directory / name).read_bytes()
        info.update(bytes=len(data), sha256=hashlib.sha256(data).hexdigest())
    manifest = {
        "generator": "jobmatch.data.synthetic",
        "generator_version": GENERATOR_VERSION,
        "vocabulary_digest": vocab.digest,
        "fingerprint": fp,
        "config": config.to_dict(),
        "files": files,
        "figures": figures,
    }
    text = json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    (directory / MANIFEST).write_text(text, encoding="utf-8")


def _corpus_row(talent: Talent) -> dict[str, str]:
    """``{id, text}``, plus ``name``, ``gender`` and ``origin`` when the profile shows an identity."""
    row = {"id": talent.id, "text": talent.text}
    if talent.identity is not None:
        i = talent.identity
        row.update(name=i.name, gender=i.gender, origin=i.origin)
    return row


def _figures(world: World, rows: dict[str, list[ContrastiveRecord]]) -> dict[str, Any]:
    config = world.config
    tokenizer = measure.load_tokenizer(config.tokenizer)
    jd_texts, talent_texts = [j.text for j in world.jds], [t.text for t in world.talents]
    return {
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
            "jds": measure.token_figures(jd_texts, tokenizer, config.query_max_length),
            "talents": measure.token_figures(talent_texts, tokenizer, config.passage_max_length),
            "words": {
                "jds": measure.summary([len(t.split()) for t in jd_texts]),
                "talents": measure.summary([len(t.split()) for t in talent_texts]),
            },
        },
        "judge": measure.judge_figures(world, rows),
        "identities": measure.identity_figures(world),
    }
