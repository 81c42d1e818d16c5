"""Experiment scripts and their results; a package so that ``python -m experiments.gpu.check`` runs from the root."""
