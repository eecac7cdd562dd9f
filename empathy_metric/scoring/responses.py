"""Generated responses scored in their context (the `evaluate` metric): each (prediction, context)
pair becomes a dialogue whose last turn, the prediction, is the one scored; the validators of those
inputs (evaluate_module uses them too)."""
from __future__ import annotations

from ..dialogue import Dialogue, Turn
from ..errors import InputError
from ..io.readers.records import clean_text
from ..pipeline.decoding import UtteranceScore
from ..pipeline.windows import dialogue_windows, is_blank, without_blank_turns
from .scorer import Scorer

USER, AGENT = "user", "assistant"


def _type_name(value) -> str:
    return "null" if value is None else type(value).__name__


def context_list(context, index: int) -> list[str]:
    """A context as a list of turns: one string is one (user) turn; None or "" is no context.
    Lone surrogates (which Python strings may hold and UTF-8 cannot) become '?', as the readers do."""
    if context is None:
        return []
    if isinstance(context, str):
        return [clean_text(context)] if context else []
    if not isinstance(context, (list, tuple)):
        raise InputError(f"contexts[{index}] must be a string or a list of strings, got {_type_name(context)}",
                         field="contexts")
    for k, turn in enumerate(context):
        if not isinstance(turn, str):
            raise InputError(f"contexts[{index}][{k}] must be a string, got {_type_name(turn)}", field="contexts")
    return [clean_text(turn) for turn in context]


def prediction_text(prediction, index: int) -> str:
    if not isinstance(prediction, str):
        raise InputError(f"predictions[{index}] must be a string, got {_type_name(prediction)}",
                         field="predictions")
    return clean_text(prediction)


def response_dialogue(index: int, prediction: str, context: list[str]) -> Dialogue:
    """The context turns alternate user/agent and end with the user's turn; the prediction is the
    agent's reply."""
    prediction = prediction_text(prediction, index)
    n = len(context)
    turns = [Turn(role=USER if (n - 1 - k) % 2 == 0 else AGENT, text=text, index=k)
             for k, text in enumerate(context)]
    turns.append(Turn(role=AGENT, text=prediction, index=n))
    return Dialogue(dialogue_id=f"response-{index:09d}", turns=turns, turns_read=n + 1)


def score_responses(scorer: Scorer, predictions: list[str], contexts: list) -> list[UtteranceScore | None]:
    """One UtteranceScore per prediction, in input order; None for an empty (or whitespace-only)
    prediction, which is never scored. Only the reply is scored: context agent turns are context."""
    if len(predictions) != len(contexts):
        raise InputError(f"{len(predictions)} predictions but {len(contexts)} contexts")
    windows, positions = [], []
    for i, (prediction, context) in enumerate(zip(predictions, contexts)):
        dialogue, _ = without_blank_turns(response_dialogue(i, prediction, context_list(context, i)))
        if not is_blank(prediction):
            windows.append(dialogue_windows(dialogue, scorer.window_settings, scorer.agent_roles)[-1])
            positions.append(i)
    found: list[UtteranceScore | None] = [None] * len(predictions)
    for i, score in zip(positions, scorer.score_windows(windows)):
        found[i] = score
    return found


# ---- human ratings related to the metrics, as `empathy-score analyze` does it ---------------------
