"""The `torch-seq2seq` backend: a seq2seq checkpoint scored with torch (extra `train`). A trained
checkpoint folder is such a bundle; zero-shot scoring uses it with an in-memory manifest."""
from __future__ import annotations

from ...runtime.seq2seq.rank import RankBackend


class TorchSeq2SeqBackend(RankBackend):
    def __init__(self, bundle, device="cpu", threads=None, max_batch_tokens=16384, max_batch_size=128,
                 model=None):
        from .checkpoints import load_model
        from .torch_scoring import TorchRunner
        if threads:
            import torch
            torch.set_num_threads(threads)       # asked for explicitly by the caller (--threads)
        self._init_pairs(bundle, max_batch_tokens, max_batch_size)
        self.model = model if model is not None else load_model(bundle.file("model_config").parent)
        self.model.to(device)
        self.runner = TorchRunner(self.model, device, self.plan.max_labels)

    def _run(self, input_ids, attention_mask, decoder):
        return self.runner(input_ids, attention_mask, decoder)
