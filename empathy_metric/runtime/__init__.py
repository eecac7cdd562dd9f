"""Backends turn windows into raw outputs: {"logits.<task>": [n, labels], "perceived": [n, dims]}.

Every backend returns rows in the order of the windows it was given, whatever batching it uses.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class RawOutputs:
    outputs: dict[str, np.ndarray]
    truncated: np.ndarray            # bool [n]: the window did not fit whole


def load_backend(bundle, device: str = "cpu", threads: int | None = None,
                 max_batch_tokens: int = 16384, max_batch_size: int = 128, zero_shot_model=None):
    """The backend the bundle's manifest names. Torch backends are imported only when asked for."""
    kind = bundle.backend
    if kind == "onnx-encoder":
        from ..errors import ModelError
        from .onnx_encoder import OnnxEncoderBackend
        try:
            return OnnxEncoderBackend(bundle, device, threads, max_batch_tokens, max_batch_size)
        except ModelError as exc:
            if device != "cuda":
                raise
            from ..training.torch_encoder import cuda_fallback     # no CUDA provider: the bundle's torch weights
            fallback = cuda_fallback(bundle, str(exc), threads, max_batch_tokens, max_batch_size)
            if fallback is None:
                raise
            return fallback
    if kind == "torch-encoder":
        from ..training.torch_encoder import TorchEncoderBackend
        return TorchEncoderBackend(bundle, device, threads, max_batch_tokens, max_batch_size)
    if kind == "onnx-seq2seq":
        from .seq2seq.onnx_backend import OnnxSeq2SeqBackend
        return OnnxSeq2SeqBackend(bundle, device, threads, max_batch_tokens, max_batch_size)
    if kind == "torch-seq2seq":
        from ..training.seq2seq.torch_backend import TorchSeq2SeqBackend
        return TorchSeq2SeqBackend(bundle, device, threads, max_batch_tokens, max_batch_size)
    from ..errors import ModelError
    raise ModelError(f"no backend for '{kind}'")
