"""Pure loss functions on embeddings and similarities."""

from jobmatch.losses.info_nce import info_nce_loss

__all__ = ["info_nce_loss"]
