"""Pure loss functions on embeddings and similarities."""

from jobmatch.losses.info_nce import info_nce_loss
from jobmatch.losses.listwise import listwise_rankpo_loss
from jobmatch.losses.rankpo import preference_rewards, rankpo_loss, sft_loss, validate_preference_options

__all__ = ["info_nce_loss", "listwise_rankpo_loss", "preference_rewards", "rankpo_loss", "sft_loss",
           "validate_preference_options"]
