"""Pooling: last_token finds the last real token under left and right padding."""

import torch

from jobmatch.app.builders import container
from jobmatch.data.collate import pad_tokens
from jobmatch.model import TextEncoder, last_token_index, pool
from tests.helpers import compose_config


def test_last_token_index_left_and_right() -> None:
    right = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0]])
    left = torch.tensor([[0, 0, 1, 1, 1], [1, 1, 1, 1, 1], [0, 0, 0, 0, 1]])
    assert last_token_index(right).tolist() == [2, 4, 0]
    assert last_token_index(left).tolist() == [4, 4, 4]


def test_pool_modes() -> None:
    hidden = torch.arange(2 * 3 * 2, dtype=torch.float).view(2, 3, 2)  # [B=2, L=3, H=2]
    mask = torch.tensor([[1, 1, 0], [1, 1, 1]])
    assert torch.equal(pool(hidden, mask, "cls"), hidden[:, 0])
    assert torch.equal(pool(hidden, mask, "last_token"), torch.stack([hidden[0, 1], hidden[1, 2]]))
    assert torch.allclose(pool(hidden, mask, "mean")[0], hidden[0, :2].mean(0))


def test_decoder_embeddings_do_not_depend_on_padding_side(tmp_path) -> None:
    """A causal model pooled at the last token gives the same vector left- or right-padded."""
    cfg = container(compose_config(["model=tiny_llama"], run_dir=tmp_path).model)
    cfg["lora"]["enabled"] = False
    torch.manual_seed(0)
    encoder = TextEncoder(cfg).eval()
    seqs = [[101, 2000, 2001, 102], [101, 2002, 102]]
    with torch.no_grad():
        outs = []
        for side in ("left", "right"):
            batch = pad_tokens(seqs, pad_id=0, side=side)
            outs.append(encoder(batch.input_ids, batch.attention_mask))
        alone = encoder(torch.tensor([seqs[1]]), torch.ones(1, 3, dtype=torch.long))
    assert torch.allclose(outs[0], outs[1], atol=1e-5)
    assert torch.allclose(outs[0][1], alone[0], atol=1e-5)
