"""results.json and the README-ready markdown table of the GPU check."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

STEP_COLUMNS = ("tokens_per_s", "mfu", "peak_memory_gb", "step_s")


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.0f}"
    return str(value)


def _status(part: dict[str, Any]) -> str:
    return part.get("error") or part.get("reason") or part.get("status", "?")


def table(results: dict[str, Any]) -> str:
    """Markdown: the environment line, then one table per part (a part that failed or was skipped says so)."""
    env = results.get("env", {})
    lines = [f"GPU check ({results.get('mode')}): {env.get('device')}, torch {env.get('torch')}, "
             f"transformers {env.get('transformers')}, lightning {env.get('lightning')}, peft {env.get('peft')}, "
             f"sentence-transformers {env.get('sentence_transformers')}; total {results.get('total_s')} s; "
             f"matmul peak {_cell(results.get('peak', {}).get('tflops'))} TFLOP/s "
             f"(MFU denominator; {results.get('peak', {}).get('precision')}); memory as torch's peak allocated.", ""]
    lines += ["| part | setting | tokens/s | MFU | peak GB | step s | note |", "|---|---|---|---|---|---|---|"]
    for length in ("paper", "512"):
        part = results.get(f"steps_{length}", {})
        if part.get("status") != "ok":
            lines.append(f"| steps {length} | - | - | - | - | - | {_status(part)} |")
            continue
        where = f"JD {part['jd_tokens']} / talent {part['talent_tokens']}"
        for key, row in part.items():
            if isinstance(row, dict) and "status" in row:
                cells = [_cell(row.get(c)) for c in STEP_COLUMNS] if row["status"] == "ok" else ["-"] * 4
                note = "" if row["status"] == "ok" else _status(row)
                lines.append(f"| steps {length} ({where}) | {key} | {' | '.join(cells)} | {note} |")
    for length in ("paper", "512"):
        part = results.get(f"peer_{length}", {})
        for key, row in part.items() if part.get("status") == "ok" else [("-", part)]:
            if not isinstance(row, dict) or "status" not in row:
                continue
            ok = row.get("status") == "ok"
            note = f"jobmatch / peer = {_cell(row.get('jobmatch_over_peer'))}" if ok else _status(row)
            lines.append(f"| sentence-transformers {length} | stage1/lora/{key} | {_cell(row.get('tokens_per_s'))} "
                         f"| - | - | {_cell(row.get('step_s'))} | {note} |")
    preset = results.get("preset", {})
    step = preset.get("step", {})
    settings = preset.get("settings", {})
    note = _status(step) if step.get("status") != "ok" else _status(preset)
    lines.append(f"| preset llama3_2_1b_gpu | {json.dumps(settings) if settings else '-'} | "
                 f"{_cell(step.get('tokens_per_s'))} | {_cell(step.get('mfu'))} | {_cell(step.get('peak_memory_gb'))} "
                 f"| {_cell(step.get('step_s'))} | {note} |")
    lines += ["", "| part | result |", "|---|---|", *result_rows(results)]
    env_note = env.get("forbidden_imported_at_end")
    lines.append(f"| modules the node lacks, imported | {', '.join(env_note) if env_note else 'none'} |")
    return "\n".join(lines) + "\n"


def result_rows(results: dict[str, Any]) -> list[str]:
    """The second table: largest batches, padding, reference, corpus encoding, strategies."""
    rows = []
    for key, row in results.get("max_batch", {}).items():
        if isinstance(row, dict) and "status" in row:
            why = row.get("stopped") if row["status"] == "ok" else _status(row)
            largest = row.get("largest_batch", "-")
            rows.append(f"| largest stage-1 batch, paper lengths, {key} | {largest} JDs ({why}) |")
    pad = results.get("padding", {})
    if pad.get("status") == "ok":
        padded, chunked, grouped = pad["padded"], pad["padded_chunked"], pad["grouped"]
        rows.append(f"| padding ({pad.get('talents')}) | padded {_cell(padded['real_tokens_per_s'])} real tokens/s "
                    f"({padded['padding_share']:.0%} padding); chunk_size {_cell(chunked['real_tokens_per_s'])} "
                    f"({pad['chunked_vs_padded']}x); length-grouped {_cell(grouped['real_tokens_per_s'])} "
                    f"({grouped['padding_share']:.0%} padding, {pad['grouped_vs_padded']}x) |")
    else:
        rows.append(f"| padding | {_status(pad)} |")
    ref = results.get("reference", {})
    if ref.get("status") == "ok":
        rows.append(f"| frozen reference (unique texts) | {ref['pairs']} pairs: {ref['texts_encoded']} texts encoded "
                    f"instead of {ref['texts_naive']}, {_cell(ref['pairs_per_s'])} pairs/s, "
                    f"{_cell(ref['texts_per_s'])} texts/s |")
    else:
        rows.append(f"| frozen reference | {_status(ref)} |")
    corpus = results.get("corpus", {})
    if corpus.get("status") == "ok":
        for name in ("paper", "512"):
            row = corpus.get(name, {})
            rows.append(f"| corpus encoding at {row.get('tokens')} tokens | {_cell(row.get('texts_per_s'))} texts/s "
                        f"(batch {row.get('batch_size')}) |")
    else:
        rows.append(f"| corpus encoding | {_status(corpus)} |")
    strategies = results.get("strategies", {})
    for name in ("ddp", "deepspeed_stage_1", "deepspeed_stage_2"):
        row = strategies.get(name, {})
        text = (f"ok; checkpoint {'folder' if row.get('checkpoint_is_folder') else 'file'} read back by jobmatch"
                if row.get("status") == "ok" else _status(row or strategies))
        rows.append(f"| strategy {name} (1 device) | {text} |")
    return rows


def write_outputs(results: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    (out / "table.md").write_text(table(results))
