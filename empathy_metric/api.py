"""The Python API: `Scorer.from_pretrained(...).score(dialogues)`; the CLI, the `evaluate` metric and
evaluation all go through `Scorer.iter_scores`, which streams one dialogue at a time."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

from .pipeline.accounting import Counts
from .pipeline.aggregation import corpus_means, dialogue_metrics
from .bundle import Bundle, load_bundle
from .pipeline.decoding import UtteranceScore, decode
from .dialogue import DEFAULT_AGENT_ROLES, Dialogue
from .errors import InputError
from .io.readers.options import ReaderOptions
from .io.readers.records import record_to_dialogue
from .pipeline.windows import Window, dialogue_windows

WINDOWS_PER_CHUNK = 512     # windows scored together; bounds memory whatever the input size


@dataclass
class DialogueScore:
    dialogue_id: str
    utterances: list[UtteranceScore]
    metrics: dict[str, float]
    n_turns: int
    resumed_from: str | None = None    # --resume: the output file these records were read back from


@dataclass
class ScoreResult:
    """What `Scorer.score` returns: always this type, whatever flags were given."""
    utterances: list[UtteranceScore]
    dialogues: list[DialogueScore]
    corpus: dict[str, float]
    counts: Counts
    signature: dict
    settings: dict = field(default_factory=dict)


class Scorer:
    def __init__(self, bundle: Bundle, backend, agent_roles: frozenset[str] = DEFAULT_AGENT_ROLES,
                 future_context: bool = True):
        self.bundle = bundle
        self.backend = backend
        # A GPU backend wants more windows per call than a CPU one (its batches are bigger).
        self.windows_per_chunk = getattr(backend, "windows_per_chunk", WINDOWS_PER_CHUNK)
        self.agent_roles = frozenset(r.lower() for r in agent_roles)
        self.window_settings = bundle.window if future_context else bundle.window.without_future()
        if not future_context and hasattr(backend, "with_settings"):
            backend.with_settings(self.window_settings)
        self.tasks = bundle.tasks
        self.perceived = bundle.perceived

    @classmethod
    def from_pretrained(cls, model: str | None = None, device: str = "cpu", threads: int | None = None,
                        max_batch_tokens: int = 16384, max_batch_size: int = 128,
                        agent_roles: Iterable[str] | None = None, future_context: bool = True,
                        verify: bool = True) -> "Scorer":
        from .runtime import load_backend
        bundle = load_bundle(model, verify=verify)
        backend = load_backend(bundle, device, threads, max_batch_tokens, max_batch_size)
        roles = frozenset(agent_roles) if agent_roles else DEFAULT_AGENT_ROLES
        return cls(bundle, backend, roles, future_context)

    def settings(self) -> dict:
        return {"window": self.window_settings.to_dict(), "agent_roles": sorted(self.agent_roles)}

    def score(self, dialogues: Iterable[Dialogue | dict[str, Any]]) -> ScoreResult:
        counts = Counts()
        scored = list(self.iter_scores(self._as_dialogues(dialogues, counts), counts))
        return ScoreResult(utterances=[u for d in scored for u in d.utterances], dialogues=scored,
                           corpus=corpus_means([d.metrics for d in scored]), counts=counts,
                           signature=self.bundle.signature(), settings=self.settings())

    def _as_dialogues(self, items, counts: Counts) -> Iterator[Dialogue]:
        options = ReaderOptions(agent_roles=self.agent_roles)
        for number, item in enumerate(items):
            counts.records_read += 1
            if isinstance(item, Dialogue):
                yield item
            else:
                try:
                    yield record_to_dialogue(item, options, f"<input>:{number}")
                except InputError as exc:
                    raise InputError(exc.reason, source="<input>", line=number, field=exc.field) from None

    def iter_scores(self, dialogues: Iterable[Dialogue], counts: Counts,
                    on_error: str = "raise", resumed=None) -> Iterator[DialogueScore]:
        """Score dialogues in chunks of windows; yield each dialogue, in input order, when done.
        `counts` is updated as dialogues pass (records_read is the reader's business).
        `resumed` (resume.ResumedOutput): dialogues already in an earlier run's output are read
        back from it instead of being scored again."""
        pending: list[tuple[Dialogue, list[Window]]] = []
        n_windows = 0
        seen: dict[str, str] = {}
        for dialogue in dialogues:
            if dialogue.dialogue_id in seen:
                error = InputError(f"duplicate dialogue id '{dialogue.dialogue_id}' "
                                   f"(first seen at {seen[dialogue.dialogue_id]})",
                                   source=dialogue.source or None)
                if on_error != "skip":
                    raise error
                counts.records_skipped["duplicate_dialogue_id"] = \
                    counts.records_skipped.get("duplicate_dialogue_id", 0) + 1
                continue
            seen[dialogue.dialogue_id] = dialogue.source or dialogue.dialogue_id
            self._count_read(dialogue, counts)
            windows = dialogue_windows(dialogue, self.window_settings, self.agent_roles)
            if not windows:
                counts.add_skipped("dialogue_without_agent_turn", len(dialogue.turns))
                continue
            counts.turns_scored += len(windows)
            counts.turns_context += len(dialogue.turns) - len(windows)
            if resumed is not None and dialogue.dialogue_id in resumed:
                yield from self._flush(pending, counts)       # keeps the output in input order
                pending, n_windows = [], 0
                yield resumed.dialogue_score(dialogue, windows, self, counts)
                continue
            pending.append((dialogue, windows))
            n_windows += len(windows)
            if n_windows >= self.windows_per_chunk:
                yield from self._flush(pending, counts)
                pending, n_windows = [], 0
        yield from self._flush(pending, counts)
        counts.check()

    @staticmethod
    def _count_read(dialogue: Dialogue, counts: Counts) -> None:
        counts.turns_read += dialogue.turns_read
        counts.non_text_parts_skipped += dialogue.truncated_parts
        for reason, n in dialogue.skipped.items():
            counts.add_skipped(reason, n)

    def _flush(self, pending, counts: Counts) -> Iterator[DialogueScore]:
        if not pending:
            return
        windows = [w for _, ws in pending for w in ws]
        raw = self.backend.predict(windows)
        utterances = decode(windows, raw.outputs, raw.truncated, self.tasks, self.perceived)
        counts.windows_truncated += int(raw.truncated.sum())
        start = 0
        for dialogue, ws in pending:
            mine = utterances[start:start + len(ws)]
            start += len(ws)
            counts.dialogues_scored += 1
            yield DialogueScore(dialogue_id=dialogue.dialogue_id, utterances=mine,
                                metrics=dialogue_metrics(mine, self.tasks, self.perceived),
                                n_turns=len(mine))
