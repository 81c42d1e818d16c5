"""The GPU check (issue 33): ``python -m experiments.gpu.check``; see README.md here."""
