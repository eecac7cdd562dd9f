"""The paper's encoder classifier, multi-head: encode the window, mean-pool the scored turn's
tokens, one linear head per task (+ one sigmoid head for the perceived dimensions).

Pooling "target+context" also mean-pools the rest of the window (the turns around the scored one)
and gives the heads both vectors: whether a reply interprets or explores what the other party said
(EPITOME's mechanisms) is a relation between the two, which EPITOME models with two encoders."""
from __future__ import annotations

import contextlib
import inspect
import json
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..pipeline.encoding import EncodedWindow, length_sorted_batches

HEADS_FILE = "heads.safetensors"
CONFIG_FILE = "empathy_config.json"
POOLINGS = ("target", "target+context")


class MultiHeadEncoder(nn.Module):
    def __init__(self, encoder: nn.Module, task_sizes: dict[str, int], perceived_dims: int,
                 dropout: float = 0.1, rationale_tasks: int = 0, pooling: str = "target"):
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"pooling {pooling!r}: expected one of {POOLINGS}")
        self.encoder = encoder
        self._has_token_types = "token_type_ids" in inspect.signature(encoder.forward).parameters
        hidden = encoder.config.hidden_size
        self.pooling = pooling
        features = hidden * (2 if pooling == "target+context" else 1)
        self.task_names = list(task_sizes)
        self.dropout = nn.Dropout(dropout)
        self.heads = nn.ModuleDict({name: nn.Linear(features, n) for name, n in task_sizes.items()})
        self.perceived = nn.Linear(features, perceived_dims) if perceived_dims else None
        # Training only (rationales.py): token logits per EMH mechanism; never saved or exported.
        self.rationale = nn.Linear(hidden, rationale_tasks) if rationale_tasks else None

    def output_names(self) -> list[str]:
        names = [f"logits.{t}" for t in self.task_names]
        return names + (["perceived"] if self.perceived is not None else [])

    def forward(self, input_ids, attention_mask, target_mask):
        return self._heads(self._hidden(input_ids, attention_mask), attention_mask, target_mask)

    def forward_with_rationale(self, input_ids, attention_mask, target_mask):
        """(the outputs of forward, rationale token logits [batch, length, mechanisms])."""
        hidden = self._hidden(input_ids, attention_mask)
        return self._heads(hidden, attention_mask, target_mask), self.rationale(self.dropout(hidden))

    def _hidden(self, input_ids, attention_mask):
        # Explicit zero token types where the encoder has them (BERT): the exported graph then needs no
        # such input. MPNet and other RoBERTa-style encoders take none.
        types = {"token_type_ids": torch.zeros_like(input_ids)} if self._has_token_types else {}
        return self.encoder(input_ids=input_ids, attention_mask=attention_mask, **types).last_hidden_state

    def _heads(self, hidden, attention_mask, target_mask):
        pooled = _masked_mean(hidden, target_mask)
        if self.pooling == "target+context":     # [CLS], [SEP] and tags count as context: never empty
            context = attention_mask.to(target_mask.dtype) - target_mask
            pooled = torch.cat([pooled, _masked_mean(hidden, context)], dim=-1)
        pooled = self.dropout(pooled)
        outputs = [self.heads[name](pooled) for name in self.task_names]
        if self.perceived is not None:
            outputs.append(torch.sigmoid(self.perceived(pooled)))
        return tuple(outputs)


def _masked_mean(hidden, mask):
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)


@torch.inference_mode()
def predict_encoded(model: MultiHeadEncoder, encoded: list[EncodedWindow], device, pad_id: int = 0,
                    max_batch_tokens: int = 16384, max_batch_size: int = 64, autocast: bool = False
                    ) -> dict[str, np.ndarray]:
    """The model's outputs for encoded windows, {output name: [n, ...]} in their order: the one torch
    forward loop of the encoder, used by the torch-encoder backend, by training (validation,
    calibration, teachers) and by export (the reference the graphs are validated against).
    Batches are length-sorted under a token budget, never of one row (see length_sorted_batches);
    `autocast`: fp16 matrix products on CUDA (layer norms and softmax stay fp32)."""
    device = torch.device(device)
    model.to(device).eval()
    names = model.output_names()
    results = {name: np.zeros((0,), dtype=np.float32) for name in names}
    precision = torch.autocast("cuda", torch.float16) if autocast else contextlib.nullcontext()
    for batch in length_sorted_batches(encoded, max_batch_tokens, max_batch_size, pad_id, min_rows=2):
        feeds = [torch.from_numpy(x).to(device, non_blocking=True)
                 for x in (batch.input_ids, batch.attention_mask, batch.target_mask)]
        with precision:
            outputs = model(*feeds)
        for name, value in zip(names, outputs):
            value = value.float().cpu().numpy()
            if results[name].shape[0] != len(encoded):
                results[name] = np.empty((len(encoded), *value.shape[1:]), dtype=np.float32)
            results[name][batch.positions] = value
    return results


def build_model(encoder_path: str, task_sizes: dict[str, int], perceived_dims: int,
                rationale_tasks: int = 0, pooling: str = "target") -> MultiHeadEncoder:
    from transformers import AutoModel
    # fp32 master weights whatever dtype the checkpoint was saved in: transformers 5 keeps a saved
    # fp16 dtype (4.x cast to fp32), and plain fp16 training diverges
    encoder = AutoModel.from_pretrained(encoder_path, local_files_only=True).float()
    return MultiHeadEncoder(encoder, task_sizes, perceived_dims, rationale_tasks=rationale_tasks, pooling=pooling)


def save_checkpoint(model: MultiHeadEncoder, out_dir: Path, config: dict) -> None:
    """Weights as safetensors (never pickle) + a JSON config: tasks, window, training settings."""
    from safetensors.torch import save_file
    out_dir.mkdir(parents=True, exist_ok=True)
    model.encoder.save_pretrained(out_dir / "encoder", safe_serialization=True)
    heads = {f"heads.{k}": v.detach().cpu().contiguous() for k, v in model.heads.state_dict().items()}
    if model.perceived is not None:
        heads.update({f"perceived.{k}": v.detach().cpu().contiguous()
                      for k, v in model.perceived.state_dict().items()})
    save_file(heads, str(out_dir / HEADS_FILE))
    (out_dir / CONFIG_FILE).write_text(json.dumps(config, indent=2))


def checkpoint_config(ckpt_dir: str | Path) -> dict:
    return json.loads((Path(ckpt_dir) / CONFIG_FILE).read_text())


def load_checkpoint(ckpt_dir: Path) -> tuple[MultiHeadEncoder, dict]:
    from safetensors.torch import load_file
    config = checkpoint_config(ckpt_dir)
    task_sizes = {t["name"]: len(t["labels"]) for t in config["tasks"]}
    model = build_model(str(ckpt_dir / "encoder"), task_sizes, len(config.get("perceived", [])),
                        pooling=config.get("pooling", "target"))
    state = load_file(str(ckpt_dir / HEADS_FILE))
    model.heads.load_state_dict({k[len("heads."):]: v for k, v in state.items() if k.startswith("heads.")})
    if model.perceived is not None:
        model.perceived.load_state_dict({k[len("perceived."):]: v for k, v in state.items()
                                         if k.startswith("perceived.")})
    model.eval()
    return model, config
