"""Benchmark harness (``python -m experiments.benchmarks``, ``make bench``): speed and memory, as side-by-side
ratios. It lives outside the package: it imports jobmatch, never the other way round."""
