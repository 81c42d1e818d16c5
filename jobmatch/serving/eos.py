"""Make a tokenizer append EOS itself, so that tools other than jobmatch tokenise like jobmatch.

jobmatch's ``append_eos`` (decoders with last-token pooling) tokenises with truncation to
``max_length - 1`` and then appends EOS (:func:`jobmatch.model.tokenizer.tokenize`). A fast
tokenizer whose post-processor template ends with EOS does exactly the same: truncation reserves
room for the template's special tokens. sentence-transformers and plain ``AutoTokenizer`` users
then get the same ids. Whether the patched tokenizer survives a save/reload unchanged is checked
empirically by :func:`reproduces_append_eos`, never assumed.
"""

from __future__ import annotations

import copy
import json
import tempfile
from collections.abc import Sequence
from typing import Any

from tokenizers import Tokenizer
from transformers import AutoTokenizer, PreTrainedTokenizerBase

from jobmatch.model.tokenizer import tokenize

_SEQ_A = {"Sequence": {"id": "A", "type_id": 0}}
_SEQ_B = {"Sequence": {"id": "B", "type_id": 1}}


def _append_to_template(template: dict[str, Any], eos: str, eos_id: int) -> None:
    """Add EOS at the end of a TemplateProcessing's single and pair templates (in place)."""
    template["single"].append({"SpecialToken": {"id": eos, "type_id": 0}})
    template["pair"].append({"SpecialToken": {"id": eos, "type_id": 1}})
    template.setdefault("special_tokens", {})[eos] = {"id": eos, "ids": [eos_id], "tokens": [eos]}


def with_eos_post_processor(tokenizer: PreTrainedTokenizerBase) -> PreTrainedTokenizerBase:
    """A copy of a fast tokenizer whose post-processor ends every sequence with EOS.

    An existing TemplateProcessing (e.g. Llama's ``<s> $A``) gets EOS appended; another kind of
    post-processor (e.g. ByteLevel) is followed by a ``$A </s>`` template. Tokenizers whose saved
    config carries ``add_bos_token``/``add_eos_token`` rebuild their template from those flags when
    loaded, so ``add_eos_token`` is set too.

    Raises:
        ValueError: the tokenizer has no EOS token or is not a fast (``tokenizers``) tokenizer.
    """
    if tokenizer.eos_token is None or tokenizer.eos_token_id is None:
        raise ValueError("append_eos is set but the tokenizer has no EOS token")
    if not getattr(tokenizer, "is_fast", False) or not hasattr(tokenizer, "_tokenizer"):
        raise ValueError("only fast (tokenizers-backed) tokenizers can be made to append EOS")
    patched = copy.deepcopy(tokenizer)
    state = json.loads(patched.backend_tokenizer.to_str())
    eos, eos_id = str(patched.eos_token), int(patched.eos_token_id)
    fresh: dict[str, Any] = {"type": "TemplateProcessing", "single": [_SEQ_A], "pair": [_SEQ_A, _SEQ_B],
                             "special_tokens": {}}
    current = state.get("post_processor")
    if current is None:
        _append_to_template(fresh, eos, eos_id)
        state["post_processor"] = fresh
    elif current["type"] == "TemplateProcessing":
        _append_to_template(current, eos, eos_id)
    elif current["type"] == "Sequence" and any(p["type"] == "TemplateProcessing" for p in current["processors"]):
        _append_to_template([p for p in current["processors"] if p["type"] == "TemplateProcessing"][-1], eos, eos_id)
    else:
        _append_to_template(fresh, eos, eos_id)
        state["post_processor"] = {"type": "Sequence", "processors": [current, fresh]}
    patched._tokenizer = Tokenizer.from_str(json.dumps(state))
    if "add_bos_token" in patched.init_kwargs or "add_eos_token" in patched.init_kwargs:
        patched.init_kwargs["add_eos_token"] = True
        object.__setattr__(patched, "_add_eos_token", True)  # the flag only: keep the template built above
    return patched


def reproduces_append_eos(
    original: PreTrainedTokenizerBase, saved_dir: str, texts: Sequence[str], max_length: int
) -> bool:
    """Whether the tokenizer saved in ``saved_dir`` gives, with plain truncation to ``max_length``,
    the ids that jobmatch gives with ``original`` and ``append_eos`` (texts longer than
    ``max_length`` included)."""
    reloaded = AutoTokenizer.from_pretrained(saved_dir)
    want = tokenize(original, texts, max_length=max_length, append_eos=True)
    got = reloaded(list(texts), truncation=True, max_length=max_length)["input_ids"]
    return [list(ids) for ids in got] == want


def eos_tokenizer_if_exact(
    tokenizer: PreTrainedTokenizerBase, texts: Sequence[str], max_length: int
) -> PreTrainedTokenizerBase | None:
    """The EOS-appending copy of ``tokenizer`` when it reproduces jobmatch's ids after a save and
    reload, else ``None`` (the caller then keeps jobmatch's own ``append_eos``)."""
    try:
        patched = with_eos_post_processor(tokenizer)
    except ValueError:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        patched.save_pretrained(tmp)
        return patched if reproduces_append_eos(tokenizer, tmp, texts, max_length) else None
