"""Transcripts for the HTML report: a dialogue's turns with their texts, expressed labels and
perceived scores, and which dialogues a report keeps them for.

Memory stays flat on any input size: a run keeps the transcripts of at most TRANSCRIPT_CAP
dialogues, all of them while there are fewer, then those lowest on the report's sort metric
(lowest perceived empathy first). Every dialogue's metrics stay in the run summary.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..pipeline.aggregation import DialogueScore

TRANSCRIPT_CAP = 500


CUT_WORDS = {"turn": "this turn", "context_before": "earlier context", "context_after": "later context"}


@dataclass(frozen=True)
class TranscriptTurn:
    index: int                      # 0-based position in the input dialogue's turn list
    role: str
    text: str
    scored: bool                    # an agent turn (labels and perceived scores) or context
    labels: dict[str, str]
    perceived: dict[str, float]
    truncated: bool = False
    truncated_parts: tuple = ()     # what did not fit its window (pipeline/encoding.cut_parts)

    @property
    def cut_note(self) -> str:
        """What the report says of a truncated window: which part was cut, e.g. "earlier context cut
        to fit" (the turn itself was scored whole); "" when nothing was."""
        if not self.truncated:
            return ""
        parts = [CUT_WORDS.get(p, p) for p in self.truncated_parts]
        return (" and ".join(parts) if parts else "window") + " cut to fit"


@dataclass(frozen=True)
class Transcript:
    dialogue_id: str
    n_turns: int                    # scored (agent) turns
    metrics: dict[str, float]
    turns: tuple[TranscriptTurn, ...]
    complete: bool                  # False when only the scored turns are known (a saved per-turn file)


def transcript_of(scored: DialogueScore) -> Transcript:
    """Every turn of the dialogue when it was read from a log; its scored turns only when the scores
    were read back from a per-turn file (whose records carry text only with --include-text)."""
    by_index = {u.turn_index: u for u in scored.utterances}
    turns = []
    if scored.turns:
        for turn in scored.turns:
            u = by_index.get(turn.index)
            turns.append(TranscriptTurn(turn.index, turn.role, turn.text, u is not None,
                                        u.labels if u else {}, u.perceived if u else {},
                                        u.truncated if u else False, tuple(u.truncated_parts) if u else ()))
    else:
        turns = [TranscriptTurn(u.turn_index, u.role, u.text, True, u.labels, u.perceived, u.truncated,
                                tuple(u.truncated_parts)) for u in scored.utterances]
    return Transcript(scored.dialogue_id, scored.n_turns, dict(scored.metrics), tuple(turns),
                      complete=bool(scored.turns))


def sort_metric(names: list[str]) -> str:
    """The metric a report orders dialogues by: perceived empathy when the model has it, else its
    first perceived dimension, else its first metric."""
    perceived = [n for n in names if n.startswith("perceived.")]
    if "perceived.empathy" in names:
        return "perceived.empathy"
    return perceived[0] if perceived else names[0]


class LowestTranscripts:
    """At most `cap` transcripts: every dialogue while there are fewer, then the `cap` lowest on
    `metric` (ties broken by dialogue id, so the choice does not depend on input order)."""

    def __init__(self, metric: str, cap: int = TRANSCRIPT_CAP):
        self.metric, self.cap = metric, cap
        self.kept: list[Transcript] = []
        self.seen = 0

    def _key(self, transcript: Transcript) -> tuple[float, str]:
        return transcript.metrics[self.metric], transcript.dialogue_id

    def add(self, scored: DialogueScore) -> None:
        self.seen += 1
        self.kept.append(transcript_of(scored))
        if len(self.kept) >= 2 * self.cap:        # prune in batches: amortised O(log cap) per dialogue
            self._prune()

    def _prune(self) -> None:
        self.kept = sorted(self.kept, key=self._key)[:self.cap]

    def lowest_first(self) -> list[Transcript]:
        self._prune()
        return list(self.kept)
