"""The GPU check: ``python -m experiments.gpu.check``; see README.md here."""
