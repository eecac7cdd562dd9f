"""The `onnx-seq2seq` backend: encoder and decoder graphs (Optimum's export, decoder without past)
on ONNX Runtime. Imports neither torch nor transformers: tokenizers + onnxruntime + numpy."""
from __future__ import annotations

import numpy as np

from ...errors import ModelError
from ..ort_session import make_session, scoring_failures
from .plan import DecoderBatch
from .rank import RankBackend, read_scores


class OnnxSeq2SeqBackend(RankBackend):
    # Batches of one are padded to two rows (see encoding.length_sorted_batches): ORT's CPU
    # reductions sum a single row in another order, and results must not depend on batching.
    min_rows = 2

    def __init__(self, bundle, device="cpu", threads=None, max_batch_tokens=16384, max_batch_size=128):
        self.graph_folder = bundle.path
        self.encoder = make_session(bundle.file("encoder"), device, threads)
        self.decoder = make_session(bundle.file("decoder"), device, threads)
        self.decoder_inputs = {i.name for i in self.decoder.get_inputs()}
        needed = {"input_ids", "encoder_hidden_states"}
        if not needed <= self.decoder_inputs:
            raise ModelError(f"{bundle.file('decoder')}: decoder graph lacks input(s) "
                             f"{', '.join(sorted(needed - self.decoder_inputs))}")
        self._init_pairs(bundle, max_batch_tokens, max_batch_size)

    def _run(self, input_ids: np.ndarray, attention_mask: np.ndarray, decoder: DecoderBatch) -> np.ndarray:
        with scoring_failures(self.graph_folder):
            hidden = self.encoder.run(["last_hidden_state"], {"input_ids": input_ids,
                                                              "attention_mask": attention_mask})[0]
            feeds = {"input_ids": decoder.input_ids, "encoder_hidden_states": hidden[decoder.row_pair],
                     "encoder_attention_mask": attention_mask[decoder.row_pair]}
            logits = self.decoder.run(["logits"], {k: v for k, v in feeds.items() if k in self.decoder_inputs})[0]
        return read_scores(logits, decoder, len(input_ids), self.plan.max_labels)
