"""The `torch-seq2seq` backend: a seq2seq checkpoint scored with torch (extra `train`). A trained
checkpoint folder is such a bundle; zero-shot scoring uses it with an in-memory manifest."""
from __future__ import annotations

import copy

from ...pipeline.encoding import load_tokenizer
from ...runtime import WINDOWS_PER_CHUNK
from ...runtime.seq2seq.pairs import PairEncoder
from ...runtime.seq2seq.plan import PromptPlan
from ...runtime.seq2seq.rank import predict_windows


class TorchSeq2SeqBackend:
    windows_per_chunk = WINDOWS_PER_CHUNK

    def __init__(self, bundle, device="cpu", threads=None, max_batch_tokens=16384, max_batch_size=128,
                 model=None):
        from .checkpoints import load_model
        from .torch_scoring import TorchRunner
        if threads:
            import torch
            torch.set_num_threads(threads)       # asked for explicitly by the caller (--threads)
        self.bundle = bundle
        self.plan = PromptPlan.from_dict(bundle.manifest["seq2seq"])
        self.model = model if model is not None else load_model(bundle.file("model_config").parent)
        self.model.to(device)
        self.runner = TorchRunner(self.model, device, self.plan.max_labels)
        self.tokenizer = load_tokenizer(bundle.file("tokenizer"))
        self.pairs = PairEncoder(self.tokenizer, bundle.window, self.plan)
        self.max_batch_tokens, self.max_batch_size = max_batch_tokens, max_batch_size

    def with_settings(self, settings):
        other = copy.copy(self)                 # shares the model
        other.pairs = PairEncoder(self.tokenizer, settings, self.plan)
        return other

    def predict(self, windows):
        return predict_windows(self.pairs, windows, self.runner, self.max_batch_tokens, self.max_batch_size)
