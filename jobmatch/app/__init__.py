"""The application layer: the only code that reads a Hydra DictConfig (builders, steps, the task of each
entry point). Importing it registers the config tree's resolvers (``${cpu_bf16:...}``)."""

from jobmatch.app.resolvers import register_resolvers

register_resolvers()  # ${cpu_bf16:...} in the presets resolves wherever the configs are composed
