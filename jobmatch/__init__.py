"""jobmatch: contrastive learning and Rank Preference Optimisation for job-talent matching."""

__version__ = "0.1.0"
