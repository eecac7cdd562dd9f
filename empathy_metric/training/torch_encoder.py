"""The `torch-encoder` backend: a trained encoder checkpoint scored with torch (extra `train`).

Used for bundles that hold torch weights: a checkpoint folder made a bundle by
`write_checkpoint_manifest`, or an ONNX bundle that ships its checkpoint beside the graph, which
`--device cuda` falls back to when ONNX Runtime's CUDA provider is not available
(`runtime.onnx_encoder.load_onnx_encoder`). The runtime's registry names this class; the runtime
never imports it. The checkpoint's files are listed in the manifest under the roles of
`bundle.CHECKPOINT_FILES`, so loading verifies their sha256 like any other bundle file; loading
never unpickles (safetensors only).
"""
from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np

from ..bundle import CHECKPOINT_FILES, checkpoint_files, write_manifest
from ..errors import MissingExtraError, ModelError
from ..pipeline.encoding import WindowEncoder, load_tokenizer
from ..runtime import WINDOWS_PER_CHUNK, RawOutputs

CUDA_WINDOWS_PER_CHUNK = 32768


class TorchEncoderBackend:
    windows_per_chunk = WINDOWS_PER_CHUNK

    def __init__(self, bundle, device="cpu", threads=None, max_batch_tokens=16384, max_batch_size=128):
        try:
            import torch

            from .model import load_checkpoint
        except ImportError:
            raise MissingExtraError("torch", "train", "Scoring with torch weights") from None
        if device == "cuda" and not torch.cuda.is_available():
            raise ModelError("--device cuda: torch sees no CUDA device (torch "
                             f"{torch.__version__}, built for CUDA {torch.version.cuda})")
        if threads:
            torch.set_num_threads(threads)       # asked for explicitly by the caller (--threads)
        self.bundle, self.device = bundle, torch.device(device)
        self.model, _ = load_checkpoint(bundle.file("checkpoint_config").parent)
        self.model.to(self.device).eval()
        self.encoder = WindowEncoder(load_tokenizer(bundle.file("tokenizer")), bundle.window)
        self.max_batch_tokens, self.max_batch_size = max_batch_tokens, max_batch_size
        if self.device.type == "cuda":
            self.windows_per_chunk = CUDA_WINDOWS_PER_CHUNK

    def with_settings(self, settings):
        other = copy.copy(self)                 # shares the model
        other.encoder = WindowEncoder(self.encoder.tokenizer, settings)
        return other

    def predict(self, windows) -> RawOutputs:
        from .model import predict_encoded
        encoded = self.encoder.encode(windows)
        # CUDA: fp16 matrix products under autocast (layer norms and softmax stay fp32).
        outputs = predict_encoded(self.model, encoded, self.device, self.encoder.pad_id, self.max_batch_tokens,
                                  self.max_batch_size, autocast=self.device.type == "cuda")
        return RawOutputs(outputs=outputs, truncated=np.array([e.truncated for e in encoded], dtype=np.uint8))


def write_checkpoint_manifest(checkpoint: str | Path, name: str | None = None) -> dict:
    """Make a trained checkpoint folder a `torch-encoder` bundle (`empathy-score -m CHECKPOINT`)."""
    folder = Path(checkpoint)
    config = json.loads((folder / CHECKPOINT_FILES["checkpoint_config"]).read_text(encoding="utf-8"))
    manifest = {"name": name or folder.name, "backend": "torch-encoder",
                "files": {**checkpoint_files(), "tokenizer": "tokenizer.json"},
                "tasks": config["tasks"],
                "perceived": {"dimensions": config.get("perceived", [])},
                "window": config["window"], "runtime": {"precision": "fp32"}}
    return write_manifest(folder, manifest)
