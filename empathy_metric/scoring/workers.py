"""What each worker process (or Ray actor) holds and does: one scorer, built once by `start_worker`,
then chunks of dialogues scored (or only prepared for the model process) and their per-turn text
rendered, so that the parent only writes it."""
from __future__ import annotations

import os
from typing import Any, Callable

from ..dialogue import Dialogue
from ..pipeline.aggregation import DialogueScore
from ..pipeline.encoding import PreparedWindows
# The process's scorer (scorer.Scorer, not imported: the scorer imports this module to start its pool)
_worker_scorer: Any = None


def start_worker(recipe: Callable[..., Any], threads: int) -> None:
    """The pool's initializer: this process's scorer, with `threads` ONNX Runtime threads."""
    global _worker_scorer
    os.environ["RAYON_NUM_THREADS"] = str(threads)     # the tokenizer's pool, as ORT's: cores / workers
    _worker_scorer = recipe(threads=threads)


def worker_scorer() -> Any:
    return _worker_scorer


def for_parent(score: DialogueScore, formats: tuple, keep_utterances: bool, keep_turns: bool = False) -> DialogueScore:
    """A dialogue scored in a worker, made ready to travel back: its per-turn text rendered in
    `formats` (io.writers), its turns dropped unless `keep_turns` (the parent has them), its
    utterances dropped unless `keep_utterances` (unpickling them cost more than writing them)."""
    score.rendered = {f: f.render(score) for f in formats}
    if not keep_turns:
        score.turns = []
    if not keep_utterances:
        score.turns, score.utterances = [], []
    return score


def score_in_worker(job: tuple[list[Dialogue], tuple, bool]) -> list[DialogueScore]:
    """One chunk, scored in a worker, its per-turn text rendered in `formats`."""
    dialogues, formats, keep_utterances, *inferred = job      # inferred: the model process's outputs
    return [for_parent(score, formats, keep_utterances)
            for score in _worker_scorer.score_step(dialogues, *inferred)]


def prepare_in_worker(job: tuple[list[Dialogue], tuple, bool]) -> PreparedWindows:
    return _worker_scorer.prepare_step(job[0])


def describe(dialogue: Dialogue) -> str:
    return f"'{dialogue.dialogue_id}'" + (f" ({dialogue.source})" if dialogue.source else "")
