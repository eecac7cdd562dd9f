"""Rank-classification scores from a torch seq2seq model: the encoder once per pair, the decoder one
step from the start token (plus teacher-forced steps for multi-token verbalisers), log-softmax read
only at the verbaliser tokens. Differentiable, so training uses the same function. Never generate().
"""
from __future__ import annotations

import numpy as np
import torch

from ...runtime.seq2seq.plan import DecoderBatch


def pair_scores(model, input_ids: torch.Tensor, attention_mask: torch.Tensor, decoder: DecoderBatch,
                max_labels: int) -> torch.Tensor:
    """[pairs, max_labels] summed verbaliser log-probabilities (0 in unused label slots)."""
    from transformers.modeling_outputs import BaseModelOutput
    device = input_ids.device
    hidden = model.get_encoder()(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
    rows = torch.from_numpy(decoder.row_pair).to(device)
    logits = model(encoder_outputs=BaseModelOutput(last_hidden_state=hidden[rows]),
                   attention_mask=attention_mask[rows],
                   decoder_input_ids=torch.from_numpy(decoder.input_ids).to(device), use_cache=False).logits
    read = [torch.from_numpy(x).to(device) for x in (decoder.read_row, decoder.read_pos, decoder.read_token,
                                                       decoder.read_pair, decoder.read_label)]
    log_probs = torch.log_softmax(logits[read[0], read[1]].float(), dim=-1)       # only the rows we read
    values = log_probs.gather(1, read[2][:, None]).squeeze(1)
    scores = torch.zeros((len(input_ids), max_labels), dtype=values.dtype, device=device)
    return scores.index_put((read[3], read[4]), values, accumulate=True)


class TorchRunner:
    """The numpy batch runner of rank.predict_windows, on a torch model."""

    def __init__(self, model, device, max_labels: int):
        self.model, self.device, self.max_labels = model, torch.device(device), max_labels

    @torch.inference_mode()
    def __call__(self, input_ids: np.ndarray, attention_mask: np.ndarray, decoder: DecoderBatch) -> np.ndarray:
        self.model.eval()
        scores = pair_scores(self.model, torch.from_numpy(input_ids).to(self.device),
                             torch.from_numpy(attention_mask).to(self.device), decoder, self.max_labels)
        result = scores.double().cpu().numpy()
        used = np.zeros(result.shape, dtype=bool)
        used[decoder.read_pair, decoder.read_label] = True
        result[~used] = np.nan
        return result
