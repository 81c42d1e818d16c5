"""Benchmark harness (``python -m jobmatch.bench``, ``make bench``): speed and memory, as side-by-side ratios."""
