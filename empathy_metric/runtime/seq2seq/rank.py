"""Rank classification shared by every seq2seq runtime (ONNX Runtime, torch): batch all (window,
prompt) pairs by length under a token budget, score each pair's verbalisers, restore order, and
turn pair scores into the scorer's outputs. Numpy only.

Outputs:
- `logits.<task>` for a one-prompt task: the summed log-likelihood of each label's verbaliser;
- `logits.<task>` for a task asked label by label: log P(yes) of each label's yes/no prompt,
  normalised over {yes, no}, so the argmax is the label with the highest P(yes);
- `perceived`: P(yes) of each dimension's yes/no prompt.
Calibration offsets (fitted on validation data) are added to the task logits.
"""
from __future__ import annotations

import copy
from typing import Callable

import numpy as np

from ...pipeline.encoding import length_sorted_batches, load_tokenizer
from ...pipeline.windows import Window
from .. import WINDOWS_PER_CHUNK, RawOutputs
from .pairs import PairEncoder
from .plan import DecoderBatch, PromptPlan

# run_batch(input_ids [B, L], attention_mask [B, L], decoder batch) -> scores [B, max_labels]
BatchRunner = Callable[[np.ndarray, np.ndarray, DecoderBatch], np.ndarray]


def read_scores(logits: np.ndarray, batch: DecoderBatch, n_pairs: int, max_labels: int) -> np.ndarray:
    """Decoder logits [rows, steps, vocab] -> summed verbaliser log-probabilities [pairs, labels]
    (NaN where a prompt has fewer labels than max_labels)."""
    picked = logits[batch.read_row, batch.read_pos].astype(np.float64)          # [reads, vocab]
    top = picked.max(axis=-1)
    log_norm = top + np.log(np.exp(picked - top[:, None]).sum(axis=-1))
    values = picked[np.arange(len(picked)), batch.read_token] - log_norm
    scores = np.zeros((n_pairs, max_labels))
    np.add.at(scores, (batch.read_pair, batch.read_label), values)
    used = np.zeros((n_pairs, max_labels), dtype=bool)
    used[batch.read_pair, batch.read_label] = True
    scores[~used] = np.nan
    return scores


def predict_windows(pair_encoder: PairEncoder, windows: list[Window], run_batch: BatchRunner,
                    max_batch_tokens: int, max_batch_size: int, min_rows: int = 1) -> RawOutputs:
    plan = pair_encoder.plan
    encoded = pair_encoder.encode(windows)
    scores = np.full((len(encoded.pairs), plan.max_labels), np.nan)
    if encoded.pairs:
        for batch in length_sorted_batches(encoded.pairs, max_batch_tokens, max_batch_size, plan.pad_token_id,
                                           min_rows):
            decoder = plan.decoder_batch(encoded.pair_prompt[batch.positions])
            scores[batch.positions] = run_batch(batch.input_ids, batch.attention_mask, decoder)
    outputs = collect_outputs(plan, scores, encoded.pair_window, encoded.pair_prompt, len(windows))
    return RawOutputs(outputs=outputs, truncated=encoded.truncated)


class RankBackend:
    """What every seq2seq backend shares (Backend protocol): the bundle's prompt plan, the pair
    encoder, `with_settings` and `predict` by `predict_windows`. A subclass calls `_init_pairs` and
    gives `_run`, the BatchRunner of its model (ONNX Runtime, torch)."""
    windows_per_chunk = WINDOWS_PER_CHUNK
    min_rows = 1             # batches never smaller than this (see encoding.length_sorted_batches)

    def _init_pairs(self, bundle, max_batch_tokens: int, max_batch_size: int) -> None:
        self.bundle = bundle
        self.plan = PromptPlan.from_dict(bundle.manifest["seq2seq"])
        self.tokenizer = load_tokenizer(bundle.file("tokenizer"))
        self.pairs = PairEncoder(self.tokenizer, bundle.window, self.plan)
        self.max_batch_tokens, self.max_batch_size = max_batch_tokens, max_batch_size

    def _run(self, input_ids: np.ndarray, attention_mask: np.ndarray, decoder: DecoderBatch) -> np.ndarray:
        raise NotImplementedError

    def with_settings(self, settings):
        other = copy.copy(self)                 # shares the model
        other.pairs = PairEncoder(self.tokenizer, settings, self.plan)
        return other

    def predict(self, windows: list[Window]) -> RawOutputs:
        return predict_windows(self.pairs, windows, self._run, self.max_batch_tokens, self.max_batch_size,
                               self.min_rows)


def yes_log_probability(scores: np.ndarray) -> np.ndarray:
    """[n, 2] (no, yes) log-likelihoods -> log P(yes) normalised over the two verbalisers."""
    return scores[:, 1] - np.logaddexp(scores[:, 0], scores[:, 1])


def output_layout(plan: PromptPlan) -> tuple[dict[str, int], list[str]]:
    """Output task -> number of labels, and the perceived dimensions, in plan order."""
    tasks: dict[str, int] = {}
    for p in plan.prompts:
        if p.kind == "task":
            tasks[p.output] = len(p.verbalisers)
        elif p.kind == "label":
            tasks[p.output] = max(tasks.get(p.output, 0), p.label + 1)
    return tasks, [p.output for p in plan.prompts if p.kind == "perceived"]


def collect_outputs(plan: PromptPlan, scores: np.ndarray, pair_window: np.ndarray, pair_prompt: np.ndarray,
                    n_windows: int) -> dict[str, np.ndarray]:
    tasks, dims = output_layout(plan)
    outputs = {f"logits.{t}": np.zeros((n_windows, n), dtype=np.float32) for t, n in tasks.items()}
    perceived = np.zeros((n_windows, len(dims)), dtype=np.float32)
    for j, p in enumerate(plan.prompts):
        rows = pair_prompt == j
        windows, s = pair_window[rows], scores[rows]
        if p.kind == "task":
            outputs[f"logits.{p.output}"][windows] = s[:, :len(p.verbalisers)]
        elif p.kind == "label":
            outputs[f"logits.{p.output}"][windows, p.label] = yes_log_probability(s)
        else:
            perceived[windows, dims.index(p.output)] = np.exp(yes_log_probability(s))
    for task, offsets in plan.logit_offsets.items():
        if f"logits.{task}" in outputs:
            outputs[f"logits.{task}"] += np.asarray(offsets, dtype=np.float32)
    if dims:
        outputs["perceived"] = perceived
    return outputs
