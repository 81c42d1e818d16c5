"""The application layer: the only code that reads a Hydra DictConfig."""
