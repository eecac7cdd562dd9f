"""Turns windows into token ids with `tokenizers` (Rust), keeping the scored turn whole.

Each distinct turn text is tokenised once, in one batched call, and windows are assembled from the
pieces: `[CLS] before... tag+TARGET after... [SEP]`. `target_mask` marks the scored turn's text
tokens, which the model mean-pools (the paper's encoder design).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..errors import ModelError
from .windows import Window, WindowSettings

MIN_PARTIAL_TOKENS = 4   # a trimmed context turn shorter than this is dropped: a tag alone is noise
# A turn is cut to its first and last `max_tokens * CHARS_PER_TOKEN` characters before it is
# tokenised: a window uses only its beginning (scored and following turns) or its end (tail of a
# scored turn, previous turns), and tokenising a 20 MB turn whole took 3 GB. WordPiece maps a word
# of up to 100 characters to one token ([UNK] beyond), so 128 characters a token leaves every
# ordinary text's window as it was.
CHARS_PER_TOKEN = 128


def load_tokenizer(path):
    """A `tokenizers` tokenizer from a tokenizer.json, with its own padding and truncation off (the
    window encoder cuts and pads; some tokenizer.json files pad everything to 128). The one loader
    of every runtime, the training recipes and export."""
    from tokenizers import Tokenizer
    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as exc:     # tokenizers raises a bare Exception on bad files
        raise ModelError(f"{path}: not a valid tokenizer.json ({exc})") from None
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return tokenizer


# What did not fit a window, as bits of EncodedWindow.truncated (0: it fits whole): the scored turn
# itself, or context turns before or after it (left out, or cut at their far end).
CUT_TURN, CUT_BEFORE, CUT_AFTER = 1, 2, 4
CUT_NAMES = ((CUT_TURN, "turn"), (CUT_BEFORE, "context_before"), (CUT_AFTER, "context_after"))


def cut_parts(truncated: int) -> list[str]:
    """The names of what was cut, from a window's truncation bits: [] when it fits whole."""
    return [name for bit, name in CUT_NAMES if int(truncated) & bit]


@dataclass(frozen=True)
class EncodedWindow:
    input_ids: np.ndarray        # int64, unpadded
    target_mask: np.ndarray      # float32, 1 on the scored turn's text tokens
    truncated: int               # CUT_* bits: what did not fit (0: nothing; truthy when anything)


class WindowEncoder:
    def __init__(self, tokenizer, settings: WindowSettings, framed: bool = True):
        """`framed`: windows start and end with the tokenizer's [CLS]/[SEP] (or <s>/</s>), which it
        must have. Unframed (seq2seq pairs cut the two slots off; T5 vocabularies have neither),
        the slots hold id 0."""
        self.tokenizer = tokenizer
        self.settings = settings
        # BERT-style ([CLS] [SEP] [PAD]) or RoBERTa/MPNet-style (<s> </s> <pad>): MPNet's vocabulary
        # holds both sets, so ask the tokenizer's own template which one wraps a sequence.
        wrapped = tokenizer.encode("", add_special_tokens=True).ids
        roberta_style = bool(wrapped) and tokenizer.id_to_token(wrapped[0]) == "<s>"
        families = [("<s>", "</s>", "<pad>"), ("[CLS]", "[SEP]", "[PAD]")]
        if not roberta_style:
            families.reverse()
        self.cls_id, self.sep_id, self.pad_id = (self._special_id(c) for c in zip(*families))
        if not framed:
            self.cls_id = self.sep_id = 0
        elif self.cls_id is None or self.sep_id is None:
            raise ModelError("the tokenizer has no [CLS] and [SEP] (or <s> and </s>) tokens, which start "
                             "and end every window")
        self.pad_id = self.pad_id or 0
        tags = tokenizer.encode_batch([settings.agent_tag, settings.other_tag],
                                      add_special_tokens=False)
        self.agent_tag_ids, self.other_tag_ids = tags[0].ids, tags[1].ids

    def _special_id(self, candidates):
        for token in candidates:
            token_id = self.tokenizer.token_to_id(token)
            if token_id is not None:
                return token_id
        return None

    def encode(self, windows: list[Window]) -> list[EncodedWindow]:
        texts: dict[str, int] = {}
        for w in windows:
            for text in (w.target, *(c.text for c in w.before), *(c.text for c in w.after)):
                texts.setdefault(text, len(texts))
        keep = self.settings.max_tokens * CHARS_PER_TOKEN
        cut = {i for text, i in texts.items() if len(text) > 2 * keep}
        bounded = [text[:keep] + " " + text[-keep:] if i in cut else text for text, i in texts.items()]
        encodings = self.tokenizer.encode_batch(bounded, add_special_tokens=False)
        ids = [e.ids for e in encodings]
        return [self._assemble(w, texts, ids, cut) for w in windows]

    @property
    def target_budget(self) -> int:
        """Tokens the scored turn may take: the window less [CLS], [SEP] and the agent tag."""
        return self.settings.max_tokens - 2 - len(self.agent_tag_ids)

    def cut_target(self, tokens: list) -> list:
        """A scored turn's tokens (or anything aligned with them) cut to the budget: its beginning,
        plus its end when `target_tail` > 0."""
        budget = self.target_budget
        if len(tokens) <= budget:
            return tokens
        tail = int(round(budget * self.settings.target_tail))
        return tokens[:budget - tail] + (tokens[len(tokens) - tail:] if tail else [])

    def _tagged(self, is_agent: bool, token_ids: list[int]) -> list[int]:
        return (self.agent_tag_ids if is_agent else self.other_tag_ids) + token_ids

    def _assemble(self, w: Window, index: dict[str, int], ids: list[list[int]], cut: set[int]) -> EncodedWindow:
        target = ids[index[w.target]]
        truncated = CUT_TURN if len(target) > self.target_budget or index[w.target] in cut else 0
        target = self.cut_target(target)
        room = self.target_budget - len(target)
        before: list[list[int]] = []                # nearest first while filling
        after: list[list[int]] = []
        # Fill nearest-first, alternating sides, so trimming always hits the far side.
        order = []
        for k in range(max(len(w.before), len(w.after))):
            if k < len(w.before):
                order.append((before, w.before[-1 - k], True))
            if k < len(w.after):
                order.append((after, w.after[k], False))
        for k, (side, turn, is_before) in enumerate(order):
            piece = self._tagged(turn.is_agent, ids[index[turn.text]])
            if len(piece) <= room:
                side.append(piece)
                room -= len(piece)
                if index[turn.text] in cut:
                    truncated |= CUT_BEFORE if is_before else CUT_AFTER
                continue
            for _, _, left_out_before in order[k:]:       # this turn and every farther one
                truncated |= CUT_BEFORE if left_out_before else CUT_AFTER
            tag_len = len(piece) - len(ids[index[turn.text]])
            body = room - tag_len
            # body > 0 matters: text_ids[-0:] is the whole list, and a long speaker tag can leave no room.
            if room >= MIN_PARTIAL_TOKENS and body > 0:
                text_ids = ids[index[turn.text]]
                kept = text_ids[-body:] if is_before else text_ids[:body]   # keep the near end
                side.append(piece[:tag_len] + kept)
            break
        tagged_target = self._tagged(True, target)
        flat = [self.cls_id]                        # list concatenation: no per-token Python work
        for piece in reversed(before):
            flat += piece
        start = len(flat) + len(tagged_target) - len(target)
        flat += tagged_target
        for piece in after:
            flat += piece
        flat.append(self.sep_id)
        input_ids = np.array(flat, dtype=np.int64)
        mask = np.zeros(len(input_ids), dtype=np.float32)
        mask[start:start + len(target)] = 1.0
        if not target:                              # an empty scored turn: pool its tag instead
            mask[start - 1] = 1.0
        return EncodedWindow(input_ids=input_ids, target_mask=mask, truncated=truncated)


@dataclass(frozen=True)
class Batch:
    positions: np.ndarray        # indices into the encoded list, to restore order
    input_ids: np.ndarray        # int64 [batch, length]
    attention_mask: np.ndarray   # int64 [batch, length]
    target_mask: np.ndarray      # float32 [batch, length]


def length_sorted_batches(encoded: list[EncodedWindow], max_batch_tokens: int,
                          max_batch_size: int, pad_id: int, min_rows: int = 1):
    """Sort by length, cut batches so that padded size stays under a token budget.

    A batch with fewer than `min_rows` windows repeats its last window (its positions repeat too):
    ONNX Runtime's CPU ReduceSum sums a [1, L, H] tensor in another order than a [B>=2, L, H] one,
    so a window scored alone would differ in the last bit from the same window in a bigger batch."""
    lengths = np.array([len(e.input_ids) for e in encoded])
    order = np.argsort(lengths, kind="stable")
    start = 0
    while start < len(order):
        stop = start + 1
        while (stop < len(order) and stop - start < max_batch_size
               and lengths[order[stop]] * (stop + 1 - start) <= max_batch_tokens):
            stop += 1
        positions = order[start:stop]
        if len(positions) < min_rows:
            positions = np.concatenate([positions, np.repeat(positions[-1:], min_rows - len(positions))])
        yield pad_batch(encoded, positions, pad_id)
        start = stop


@dataclass(frozen=True)
class BatchPlan:
    """How a backend cuts windows into batches: what the CPU stage needs to know of its model."""
    max_batch_tokens: int
    max_batch_size: int
    min_rows: int
    span: int | None = None      # sort by length a span of this many windows at a time (None: all)


@dataclass
class PreparedWindows:
    """Windows encoded and cut into padded, length-sorted batches (positions index the windows): the
    CPU half of inference, made in a --workers process and run where the model is."""
    count: int
    truncated: np.ndarray        # uint8 [count]: CUT_* bits per window
    batches: list[Batch]


def plan_batches(encoder: "WindowEncoder", windows: list[Window], plan: BatchPlan, truncated: np.ndarray):
    """The batches of `windows` under `plan`, a span at a time (so that a GPU can run one span while
    the next is encoded); marks `truncated` as windows are encoded."""
    span = plan.span or max(1, len(windows))
    for offset in range(0, len(windows), span):
        encoded = encoder.encode(windows[offset:offset + span])
        truncated[offset:offset + len(encoded)] = [e.truncated for e in encoded]
        for batch in length_sorted_batches(encoded, plan.max_batch_tokens, plan.max_batch_size,
                                           encoder.pad_id, plan.min_rows):
            yield replace(batch, positions=batch.positions + offset)


def prepare_windows(encoder: "WindowEncoder", windows: list[Window], plan: BatchPlan) -> PreparedWindows:
    truncated = np.zeros(len(windows), dtype=np.uint8)
    batches = list(plan_batches(encoder, windows, plan, truncated))
    return PreparedWindows(len(windows), truncated, batches)


def pad_batch(encoded: list[EncodedWindow], positions: np.ndarray, pad_id: int) -> Batch:
    width = max(len(encoded[i].input_ids) for i in positions)
    n = len(positions)
    input_ids = np.full((n, width), pad_id, dtype=np.int64)
    attention = np.zeros((n, width), dtype=np.int64)
    target = np.zeros((n, width), dtype=np.float32)
    for row, i in enumerate(positions):
        e = encoded[i]
        input_ids[row, :len(e.input_ids)] = e.input_ids
        attention[row, :len(e.input_ids)] = 1
        target[row, :len(e.input_ids)] = e.target_mask
    return Batch(positions=np.asarray(positions), input_ids=input_ids, attention_mask=attention,
                 target_mask=target)
