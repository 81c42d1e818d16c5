"""The encoder: HF backbone + pooling + normalisation + LoRA."""

from jobmatch.model.encoder import TextEncoder
from jobmatch.model.pooling import last_token_index, pool
from jobmatch.model.tokenizer import load_tokenizer, tokenize

__all__ = ["TextEncoder", "last_token_index", "load_tokenizer", "pool", "tokenize"]
