"""The `torch-encoder` backend: a trained encoder checkpoint scored with torch (extra `train`).

Used for bundles that hold torch weights: a checkpoint folder made a bundle by
`write_checkpoint_manifest`, or an ONNX bundle that ships its checkpoint beside the graph, which
`--device cuda` falls back to when ONNX Runtime's CUDA provider is not available (`cuda_fallback`).
The checkpoint's files are listed in the manifest under the roles of CHECKPOINT_FILES, so loading
verifies their sha256 like any other bundle file; loading never unpickles (safetensors only).
"""
from __future__ import annotations

import contextlib
import warnings
from pathlib import Path

import numpy as np

from ..pipeline.encoding import WindowEncoder, length_sorted_batches
from ..errors import MissingExtraError
from ..runtime import RawOutputs

# role -> path inside the checkpoint folder (training/model.py: save_checkpoint)
CHECKPOINT_FILES = {"checkpoint_config": "empathy_config.json",
                    "checkpoint_heads": "heads.safetensors",
                    "checkpoint_encoder_config": "encoder/config.json",
                    "checkpoint_encoder_weights": "encoder/model.safetensors"}
CUDA_WINDOWS_PER_CHUNK = 32768


def has_torch_weights(bundle) -> bool:
    return all(bundle.has_file(role) for role in CHECKPOINT_FILES)


class TorchEncoderBackend:
    def __init__(self, bundle, device="cpu", threads=None, max_batch_tokens=16384, max_batch_size=128):
        try:
            import torch
            from .model import load_checkpoint
        except ImportError:
            raise MissingExtraError("torch", "train", "Scoring with torch weights") from None
        from ..errors import ModelError
        from ..runtime.onnx_encoder import load_tokenizer
        if device == "cuda" and not torch.cuda.is_available():
            raise ModelError("--device cuda: torch sees no CUDA device (torch "
                             f"{torch.__version__}, built for CUDA {torch.version.cuda})")
        if threads:
            torch.set_num_threads(threads)       # asked for explicitly by the caller (--threads)
        self.bundle, self.device = bundle, torch.device(device)
        self.model, _ = load_checkpoint(bundle.file("checkpoint_config").parent)
        self.model.to(self.device).eval()
        self.output_names = self.model.output_names()
        self.encoder = WindowEncoder(load_tokenizer(bundle.file("tokenizer")), bundle.window)
        self.max_batch_tokens, self.max_batch_size = max_batch_tokens, max_batch_size
        if self.device.type == "cuda":
            self.windows_per_chunk = CUDA_WINDOWS_PER_CHUNK      # read by the Scorer

    def with_settings(self, settings):
        self.encoder = WindowEncoder(self.encoder.tokenizer, settings)
        return self

    def _forward(self, batch) -> list[np.ndarray]:
        import torch
        feeds = [torch.from_numpy(x).to(self.device, non_blocking=True)
                 for x in (batch.input_ids, batch.attention_mask, batch.target_mask)]
        # CUDA: fp16 matrix products under autocast (layer norms and softmax stay fp32).
        precision = (torch.autocast("cuda", torch.float16) if self.device.type == "cuda"
                     else contextlib.nullcontext())
        with torch.inference_mode(), precision:
            outputs = self.model(*feeds)
        return [o.float().cpu().numpy() for o in outputs]

    def predict(self, windows) -> RawOutputs:
        encoded = self.encoder.encode(windows)
        n = len(encoded)
        results: dict[str, np.ndarray] = {}
        # min_rows=2: as for ONNX graphs, a window is never scored alone (see length_sorted_batches).
        for batch in length_sorted_batches(encoded, self.max_batch_tokens, self.max_batch_size,
                                           self.encoder.pad_id, min_rows=2):
            for name, value in zip(self.output_names, self._forward(batch)):
                if name not in results:
                    results[name] = np.empty((n, *value.shape[1:]), dtype=np.float32)
                results[name][batch.positions] = value
        truncated = np.array([e.truncated for e in encoded], dtype=bool)
        return RawOutputs(outputs=results, truncated=truncated)


def cuda_fallback(bundle, reason: str, threads=None, max_batch_tokens=16384, max_batch_size=128):
    """The torch backend on CUDA for an ONNX bundle that ships its checkpoint, or None if it has none.
    Called when ONNX Runtime cannot run the bundle on CUDA (`reason`); says so (a warning, not a print)."""
    if not has_torch_weights(bundle):
        return None
    warnings.warn(f"ONNX Runtime cannot score on CUDA here ({reason}); scoring with the bundle's "
                  "torch weights on CUDA instead", RuntimeWarning, stacklevel=2)
    return TorchEncoderBackend(bundle, "cuda", threads, max_batch_tokens, max_batch_size)


def checkpoint_files(prefix: str = "") -> dict[str, str]:
    """Manifest `files` entries for a checkpoint stored at `prefix` inside a bundle folder."""
    return {role: f"{prefix}{path}" for role, path in CHECKPOINT_FILES.items()}


def write_checkpoint_manifest(checkpoint: str | Path, name: str | None = None) -> dict:
    """Make a trained checkpoint folder a `torch-encoder` bundle (`empathy-score -m CHECKPOINT`)."""
    import json
    from ..bundle import write_manifest
    folder = Path(checkpoint)
    config = json.loads((folder / CHECKPOINT_FILES["checkpoint_config"]).read_text(encoding="utf-8"))
    manifest = {"name": name or folder.name, "backend": "torch-encoder",
                "files": {**checkpoint_files(), "tokenizer": "tokenizer.json"},
                "tasks": config["tasks"],
                "perceived": {"dimensions": config.get("perceived", [])},
                "window": config["window"], "runtime": {"precision": "fp32"}}
    return write_manifest(folder, manifest)
