"""(window, prompt) pairs as encoder token ids: `head + instruction + window + options + tail`.

The window part comes from the scorer's WindowEncoder (same turns, tags, far-side truncation and
`max_tokens` budget as the encoder models); the scored turn is marked with the plan's marker on
both sides, since a seq2seq model has no target mask. Each distinct text is tokenised once.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ...errors import ModelError
from ...pipeline.encoding import EncodedWindow, WindowEncoder
from ...pipeline.windows import Window, WindowSettings
from .plan import PromptPlan


@dataclass(frozen=True)
class EncodedPairs:
    pairs: list[EncodedWindow]     # window-major: window i, prompt j is pairs[i * n_prompts + j]
    pair_window: np.ndarray        # int64 [n_pairs]
    pair_prompt: np.ndarray        # int64 [n_pairs]
    truncated: np.ndarray          # uint8 [n_windows]: CUT_* bits (pipeline/encoding.py)


class PairEncoder:
    def __init__(self, tokenizer, settings: WindowSettings, plan: PromptPlan):
        self.settings, self.plan = settings, plan
        # The window's [CLS]/[SEP] slots are cut off in window_ids (T5 vocabularies have neither).
        self.window_encoder = WindowEncoder(tokenizer, settings, framed=False)
        texts = [p.before for p in plan.prompts] + [p.after for p in plan.prompts]
        ids = [np.array(e.ids, dtype=np.int64) for e in tokenizer.encode_batch(texts, add_special_tokens=False)]
        n = len(plan.prompts)
        head, tail = np.array(plan.input_head, dtype=np.int64), np.array(plan.input_tail, dtype=np.int64)
        self.before = [np.concatenate([head, x]) for x in ids[:n]]
        self.after = [np.concatenate([x, tail]) for x in ids[n:]]
        self.prompt_lengths = np.array([len(b) + len(a) for b, a in zip(self.before, self.after)])
        self._check_length()

    def _check_length(self) -> None:
        """Models with absolute positions (BERT-based encoder-decoders) have a hard input limit."""
        limit = self.plan.max_input_tokens
        longest = int(self.prompt_lengths.max()) if len(self.prompt_lengths) else 0
        if limit and longest + self.settings.max_tokens - 2 > limit:
            name = self.plan.prompts[int(self.prompt_lengths.argmax())].name
            raise ModelError(f"prompt '{name}' takes {longest} tokens; with windows of up to "
                             f"{self.settings.max_tokens - 2} tokens the input exceeds the model's {limit} "
                             f"positions: lower --max-tokens to {limit - longest + 2} or shorten the instructions")

    def window_ids(self, windows: list[Window]) -> tuple[list[np.ndarray], np.ndarray]:
        marker = self.plan.marker
        marked = [replace(w, target=f"{marker} {w.target} {marker}") for w in windows]
        encoded = self.window_encoder.encode(marked)
        return [e.input_ids[1:-1] for e in encoded], np.array([e.truncated for e in encoded], dtype=np.uint8)

    def pair_ids(self, window_ids: np.ndarray, prompt: int) -> np.ndarray:
        return np.concatenate([self.before[prompt], window_ids, self.after[prompt]])

    def encode(self, windows: list[Window]) -> EncodedPairs:
        window_ids, truncated = self.window_ids(windows)
        n_prompts = len(self.plan.prompts)
        pairs = []
        for ids in window_ids:
            for p in range(n_prompts):
                input_ids = self.pair_ids(ids, p)
                pairs.append(EncodedWindow(input_ids, np.zeros(len(input_ids), dtype=np.float32), False))
        pair_window = np.repeat(np.arange(len(windows), dtype=np.int64), n_prompts)
        pair_prompt = np.tile(np.arange(n_prompts, dtype=np.int64), len(windows))
        return EncodedPairs(pairs, pair_window, pair_prompt, truncated)
