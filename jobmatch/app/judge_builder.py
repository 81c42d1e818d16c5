"""Build a judge from its config node (``conf/judge/*.yaml``): ``_target_`` plus constructor arguments.

``name`` in a judge config is the config's label (``openai``, ``local``, ``offline``), not a
constructor argument, and is dropped before instantiation; the judge's own ``name`` (what the
annotations record as ``model``) is set by the judge itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import hydra.utils
from hydra.errors import InstantiationException
from omegaconf import DictConfig, OmegaConf

from jobmatch.data.judgement import Judge

LABEL_KEYS = ("name", "redact")  # read by the annotation, not by the judge's constructor


def build_judge(cfg: Mapping[str, Any] | DictConfig) -> Judge:
    """Instantiate the judge described by ``cfg`` (interpolations resolved) and check it is a :class:`Judge`.

    Raises:
        ValueError: when ``cfg`` has no ``_target_``, or the object built is not a judge.
        Exception: the judge's constructor's own error, e.g. ``MissingApiKeyError`` naming the variable.
    """
    node = OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else dict(cfg)
    assert isinstance(node, dict)
    if "_target_" not in node:
        raise ValueError(f"judge config needs a _target_ (the judge class); got keys {sorted(node)}")
    for key in LABEL_KEYS:
        node.pop(key, None)
    try:
        judge = hydra.utils.instantiate(node, _convert_="all")
    except InstantiationException as error:  # surface the judge's own error (e.g. a missing API key) as is
        if isinstance(error.__cause__, Exception):
            raise error.__cause__ from None
        raise
    if not isinstance(judge, Judge):
        raise ValueError(f"{node['_target_']} built a {type(judge).__name__}, which is not a Judge (name + judge())")
    return judge
