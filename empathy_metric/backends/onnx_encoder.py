"""The encoder backend on ONNX Runtime: tokenizers + onnxruntime + numpy, nothing else."""
from __future__ import annotations

import numpy as np

from ..encoding import WindowEncoder, length_sorted_batches
from ..errors import ModelError
from . import RawOutputs
from .ort_session import make_session


def load_tokenizer(path):
    from tokenizers import Tokenizer
    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as exc:     # tokenizers raises a bare Exception on bad files
        raise ModelError(f"{path}: not a valid tokenizer.json ({exc})") from None
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return tokenizer


class OnnxEncoderBackend:
    def __init__(self, bundle, device="cpu", threads=None, max_batch_tokens=16384, max_batch_size=128):
        self.bundle = bundle
        self.device = device
        graph = "model_fp16" if device == "cuda" and bundle.has_file("model_fp16") else "model"
        self.session = make_session(bundle.file(graph), device, threads)
        self.output_names = [o.name for o in self.session.get_outputs()]
        expected = [f"logits.{t.name}" for t in bundle.tasks]
        missing = [n for n in expected if n not in self.output_names]
        if missing:
            raise ModelError(f"{bundle.file(graph)}: graph lacks output(s) {', '.join(missing)}")
        self.encoder = WindowEncoder(load_tokenizer(bundle.file("tokenizer")), bundle.window)
        # Dynamically quantised graphs compute activation ranges over the whole batch, so a window's
        # result would depend on its batch-mates: such graphs run one window per call.
        single = bundle.manifest.get("runtime", {}).get("single_row_batches", False)
        self.max_batch_size = 1 if single else max_batch_size
        self.max_batch_tokens = max_batch_tokens

    def with_settings(self, settings):
        self.encoder = WindowEncoder(self.encoder.tokenizer, settings)
        return self

    def predict(self, windows) -> RawOutputs:
        encoded = self.encoder.encode(windows)
        n = len(encoded)
        results: dict[str, np.ndarray] = {}
        for batch in length_sorted_batches(encoded, self.max_batch_tokens, self.max_batch_size,
                                           self.encoder.pad_id):
            feeds = {"input_ids": batch.input_ids, "attention_mask": batch.attention_mask,
                     "target_mask": batch.target_mask}
            for name, value in zip(self.output_names, self.session.run(self.output_names, feeds)):
                if name not in results:
                    results[name] = np.empty((n, *value.shape[1:]), dtype=np.float32)
                results[name][batch.positions] = value
        truncated = np.array([e.truncated for e in encoded], dtype=bool)
        return RawOutputs(outputs=results, truncated=truncated)
