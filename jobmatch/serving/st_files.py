"""The sentence-transformers module files of an export, written directly (no sentence-transformers import).

The files use the long-standing layout and key names (``sentence_transformers.models.*`` module
types, ``word_embedding_dimension`` and ``pooling_mode_*`` booleans), which sentence-transformers
2.x to 6.x all read: Transformer (the folder itself) → Pooling (``1_Pooling``) → Normalize
(``2_Normalize``, only when the encoder normalises).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# jobmatch pooling → sentence-transformers Pooling mode
ST_POOLING = {"cls": "cls_token", "mean": "mean_tokens", "last_token": "lasttoken"}
_ALL_MODES = ("cls_token", "max_tokens", "mean_tokens", "mean_sqrt_len_tokens", "weightedmean_tokens", "lasttoken")


def _write_json(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2) + "\n", encoding="utf-8")


def pooling_config(pooling: str, dim: int) -> dict[str, Any]:
    """``1_Pooling/config.json`` for a jobmatch pooling mode (``cls`` | ``mean`` | ``last_token``)."""
    if pooling not in ST_POOLING:
        raise ValueError(f"pooling '{pooling}' has no sentence-transformers equivalent; one of {sorted(ST_POOLING)}")
    modes = {f"pooling_mode_{mode}": mode == ST_POOLING[pooling] for mode in _ALL_MODES}
    return {"word_embedding_dimension": dim, **modes, "include_prompt": True}


def write_sentence_transformers_files(
    out: Path, *, pooling: str, normalize: bool, dim: int, max_seq_length: int, versions: dict[str, str]
) -> None:
    """Write ``modules.json``, ``sentence_bert_config.json``, ``config_sentence_transformers.json``,
    ``1_Pooling/config.json`` and (when normalising) ``2_Normalize/`` into an export folder."""
    modules: list[dict[str, Any]] = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    ]
    if normalize:
        modules.append({"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"})
        _write_json(out / "2_Normalize" / "config.json",
                    {"module_input_name": "sentence_embedding", "module_output_name": "sentence_embedding"})
    _write_json(out / "modules.json", modules)
    _write_json(out / "sentence_bert_config.json", {"max_seq_length": max_seq_length, "do_lower_case": False})
    _write_json(out / "1_Pooling" / "config.json", pooling_config(pooling, dim))
    _write_json(out / "config_sentence_transformers.json", {
        "__version__": versions,
        "prompts": {},
        "default_prompt_name": None,
        "similarity_fn_name": "cosine" if normalize else "dot",
    })


README_TEMPLATE = """---
library_name: sentence-transformers
pipeline_tag: sentence-similarity
tags: [jobmatch, sentence-transformers, feature-extraction]
---
# jobmatch encoder export

A job-description ↔ talent-profile matcher exported by `jobmatch export`
(source: `{source}`). {details}

- pooling: `{pooling}`, L2-normalised: `{normalize}` (scores are cosine similarities)
- max tokens: JDs (queries) {max_query_length}, talent profiles (passages) {max_passage_length}
- model fingerprint: `{fingerprint}`

```python
from sentence_transformers import SentenceTransformer
model = SentenceTransformer("{folder}")   # passages are truncated at {max_passage_length} tokens
model.max_seq_length = {max_query_length}  # for JDs, as in training
```

In jobmatch: `jobmatch.serving.load_exported("{folder}")`, `jobmatch index model={folder} ...`.
{notes}"""
