"""jobmatch: contrastive learning and Rank Preference Optimisation for job-talent matching."""

from jobmatch.app.resolvers import register_resolvers

__version__ = "0.1.0"
register_resolvers()  # ${cpu_bf16:...} in the presets resolves wherever the configs are composed
