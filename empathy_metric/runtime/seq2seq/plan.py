"""The tokenised prompt plan of a seq2seq model: prompts, verbaliser token ids, special ids, and the
decoder rows that rank classification needs. Stored in the checkpoint config and the bundle
manifest, so a bundle scores exactly as its model was trained (tokenizers + numpy only).

Rank classification reads log P(verbaliser | input). A prompt whose verbalisers are all single
tokens needs one decoder row (the start token) for all its labels; a prompt with a multi-token
verbaliser needs one teacher-forced row per label, whose log-probabilities are summed.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ...errors import ModelError
from .prompts import Prompt


@dataclass(frozen=True)
class DecoderBatch:
    input_ids: np.ndarray      # int64 [rows, steps]: decoder inputs, right-padded
    row_pair: np.ndarray       # int64 [rows]: which encoder row (pair) each decoder row reads
    read_row: np.ndarray       # int64 [reads]: one read per verbaliser token ...
    read_pos: np.ndarray       # ... at this decoder step
    read_token: np.ndarray     # ... of this token id
    read_pair: np.ndarray      # ... adds to the score of this pair
    read_label: np.ndarray     # ... and this label


@dataclass
class PromptPlan:
    prompts: list[Prompt]
    instructions: bool
    marker: str                            # written around the scored turn
    verbaliser_ids: list[list[list[int]]]  # prompt -> label -> token ids
    input_head: list[int]                  # special tokens the tokenizer puts before a text ([CLS])
    input_tail: list[int]                  # ... and after it ([SEP], </s>)
    decoder_start_token_id: int
    pad_token_id: int
    logit_offsets: dict[str, list[float]] = field(default_factory=dict)   # calibration, per output task
    max_input_tokens: int | None = None    # the encoder's position limit (None: relative positions, T5)

    @classmethod
    def build(cls, prompts: list[Prompt], tokenizer, decoder_start_token_id: int, pad_token_id: int,
              instructions: bool, marker: str, max_input_tokens: int | None = None) -> "PromptPlan":
        verbaliser_ids = []
        for prompt in prompts:
            ids = [e.ids for e in tokenizer.encode_batch(list(prompt.verbalisers), add_special_tokens=False)]
            if any(not x for x in ids) or len({tuple(x) for x in ids}) != len(ids):
                raise ModelError(f"prompt '{prompt.name}': verbalisers {list(prompt.verbalisers)} tokenise "
                                 f"to {ids}; rank classification needs distinct, non-empty token sequences")
            verbaliser_ids.append(ids)
        probe = "yes"      # where does the tokenizer's template put a text? ([CLS] x [SEP], x </s>, ...)
        inner = tokenizer.encode(probe, add_special_tokens=False).ids
        outer = tokenizer.encode(probe).ids
        start = next((i for i in range(len(outer) - len(inner) + 1) if outer[i:i + len(inner)] == inner), None)
        if start is None:
            raise ModelError(f"the tokenizer's template changes the text itself ({inner} -> {outer}); "
                             "rank classification needs it to add special tokens around a text only")
        return cls(prompts, instructions, marker, verbaliser_ids, outer[:start], outer[start + len(inner):],
                   int(decoder_start_token_id), int(pad_token_id), {}, max_input_tokens)

    def to_dict(self) -> dict:
        return {"instructions": self.instructions, "scored_turn_marker": self.marker,
                "prompts": [p.to_dict() for p in self.prompts], "verbaliser_ids": self.verbaliser_ids,
                "input_head_ids": self.input_head, "input_tail_ids": self.input_tail,
                "decoder_start_token_id": self.decoder_start_token_id, "pad_token_id": self.pad_token_id,
                "logit_offsets": self.logit_offsets, "max_input_tokens": self.max_input_tokens}

    @classmethod
    def from_dict(cls, data: dict) -> "PromptPlan":
        try:
            return cls([Prompt.from_dict(p) for p in data["prompts"]], bool(data["instructions"]),
                       data["scored_turn_marker"], data["verbaliser_ids"], list(data["input_head_ids"]),
                       list(data["input_tail_ids"]), int(data["decoder_start_token_id"]),
                       int(data["pad_token_id"]), dict(data.get("logit_offsets", {})),
                       data.get("max_input_tokens"))
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"the seq2seq prompt plan is incomplete or malformed ({exc!r})") from None

    @property
    def max_labels(self) -> int:
        return max(len(p.verbalisers) for p in self.prompts)

    def single_token(self, prompt_index: int) -> bool:
        return all(len(ids) == 1 for ids in self.verbaliser_ids[prompt_index])

    def decoder_batch(self, pair_prompts: np.ndarray) -> DecoderBatch:
        """Decoder rows for a batch of pairs (pair k asks prompt pair_prompts[k])."""
        rows, row_pair, reads = [], [], []
        for pair, p in enumerate(pair_prompts):
            ids = self.verbaliser_ids[p]
            if self.single_token(p):                      # one step from the start token
                reads += [(len(rows), 0, v[0], pair, label) for label, v in enumerate(ids)]
                rows.append([self.decoder_start_token_id])
                row_pair.append(pair)
                continue
            for label, v in enumerate(ids):               # teacher-forced: start + all but the last token
                reads += [(len(rows), t, token, pair, label) for t, token in enumerate(v)]
                rows.append([self.decoder_start_token_id, *v[:-1]])
                row_pair.append(pair)
        width = max(len(r) for r in rows)
        input_ids = np.full((len(rows), width), self.pad_token_id, dtype=np.int64)
        for i, r in enumerate(rows):
            input_ids[i, :len(r)] = r
        columns = np.array(reads, dtype=np.int64).T
        return DecoderBatch(input_ids, np.array(row_pair, dtype=np.int64), *columns)
