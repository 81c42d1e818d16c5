"""Pure loss functions on embeddings and similarities."""

from jobmatch.losses.info_nce import info_nce_loss
from jobmatch.losses.listwise import listwise_rankpo_loss
from jobmatch.losses.rankpo import preference_rewards, rankpo_loss, sft_loss, validate_preference_options
from jobmatch.losses.registry import LossVariant, loss_types, loss_variant, register_loss

__all__ = ["LossVariant", "info_nce_loss", "listwise_rankpo_loss", "loss_types", "loss_variant", "preference_rewards",
           "rankpo_loss", "register_loss", "sft_loss", "validate_preference_options"]
