"""One parsed JSON record -> one Dialogue, for every supported layout. Pure: no I/O."""
from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from ...dialogue import NON_DIALOGUE_ROLES, Dialogue, Turn, normalize_role
from ...errors import InputError, UsageError
from .record_ratings import ratings_of_record
from .options import ID_KEYS, ROLE_KEYS, TEXT_KEYS, TURNS_KEYS, ReaderOptions

# Gold annotations we recognise in turns; kept on the turn, never used for scoring.
GOLD_KEYS = ("strategy", "label", "labels", "annotation")
MAX_GOLD_DEPTH = 32
# Content-part types that hold text (chat completions: "text"; responses API: input/output_text).
TEXT_PART_TYPES = ("text", "input_text", "output_text")


def _type_name(value: Any) -> str:
    return {dict: "object", list: "list", str: "text", bool: "boolean", int: "number",
            float: "number", type(None): "null"}.get(type(value), type(value).__name__)


def detect_turns_key(record: dict, options: ReaderOptions) -> str:
    if options.turns_key:
        if options.turns_key not in record:
            raise InputError(f"no '{options.turns_key}' field (given by --turns-key)",
                             field=options.turns_key)
        return options.turns_key
    if options.format not in ("auto", "emh"):
        key = TURNS_KEYS[options.format]
        if key not in record:
            raise InputError(f"no '{key}' field, which --format {options.format} expects", field=key)
        return key
    for key in TURNS_KEYS.values():
        if key in record:
            return key
    raise InputError("no turns found (looked for: " + ", ".join(TURNS_KEYS.values()) + ")")


def _pick(turn: dict, override: str | None, candidates: tuple[str, ...]) -> str | None:
    if override:
        return override if override in turn else None
    return next((k for k in candidates if k in turn), None)


def _text_of(value: Any, where: str, key: str) -> tuple[str, int]:
    """Text of a turn's content; OpenAI content may be a list of parts. Returns (text, dropped parts)."""
    if isinstance(value, str):
        return value, 0
    if isinstance(value, list):
        texts, dropped = [], 0
        for part in value:
            if isinstance(part, str):
                texts.append(part)
            elif isinstance(part, dict) and part.get("type", "text") in TEXT_PART_TYPES \
                    and isinstance(part.get("text"), str):
                texts.append(part["text"])
            else:
                dropped += 1                       # images, audio, tool calls: not text we can score
        return "\n".join(texts), dropped
    if value is None:
        return "", 0
    raise InputError(f"{where} field '{key}' must be text or a list of text parts, "
                     f"got {_type_name(value)}", field=key)


def clean_text(text: str) -> str:
    # Lone surrogates (legal in JSON, illegal in UTF-8) would crash the tokenizer and the UTF-8
    # output writers: replace them. Applies to every string we pass on (text, role, id, gold).
    return text.encode("utf-8", "replace").decode("utf-8")


def check_dialogue_iterable(items: Any) -> None:
    """`Scorer.score`'s argument: a list (or any iterable) of records or Dialogues; None, one record or a
    string is a UsageError that says so, not a TypeError from deep inside."""
    if isinstance(items, (str, bytes, dict)) or not isinstance(items, Iterable):
        raise UsageError(f"dialogues must be a list (or another iterable) of dialogue records or Dialogue "
                         f"objects, got {_type_name(items)}")


def clean_id(text: str) -> str:
    """A dialogue id with each lone surrogate written as its escape (`\\ud800`): ids must stay
    distinct, and '?' for every surrogate would make two different ids one."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _clean_value(value: Any, where: str, depth: int = 0) -> Any:
    """A gold value with its strings cleaned. Depth is bounded so that writing it back out can
    never hit Python's recursion limit."""
    if depth > MAX_GOLD_DEPTH:
        raise InputError(f"{where} gold labels are nested deeper than {MAX_GOLD_DEPTH} levels")
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, list):
        return [_clean_value(v, where, depth + 1) for v in value]
    if isinstance(value, dict):
        return {clean_text(k): _clean_value(v, where, depth + 1) for k, v in value.items()}
    return value


def _gold(turn: dict, where: str) -> dict:
    gold = {}
    for key in GOLD_KEYS:
        if key in turn:
            gold[key] = turn[key]
    annotation = turn.get("annotation")
    if isinstance(annotation, dict) and "strategy" in annotation:
        gold["strategy"] = annotation["strategy"]
    return _clean_value(gold, where)


def record_to_dialogue(record: Any, options: ReaderOptions, source: str) -> Dialogue:
    """`source` is FILE:LINE; it becomes the dialogue id when the record has none."""
    if not isinstance(record, dict):
        raise InputError(f"expected a JSON object, got {_type_name(record)}")
    turns_key = detect_turns_key(record, options)
    raw_turns = record[turns_key]
    if not isinstance(raw_turns, list):
        raise InputError(f"field '{turns_key}' must be a list of turns, got {_type_name(raw_turns)}",
                         field=turns_key)
    dialogue_id = _dialogue_id(record, options, source)
    turns: list[Turn] = []
    skipped: dict[str, int] = {}
    dropped_parts = 0
    for index, raw in enumerate(raw_turns):
        where = f"turn {index}"
        if not isinstance(raw, dict):
            raise InputError(f"{where} must be an object, got {_type_name(raw)}", field=turns_key)
        role_key = _pick(raw, options.role_key, ROLE_KEYS)
        if role_key is None:
            looked = options.role_key or ", ".join(ROLE_KEYS)
            raise InputError(f"{where} has no role field (looked for: {looked})")
        role = raw[role_key]
        if not isinstance(role, str):
            raise InputError(f"{where} field '{role_key}' must be text, got {_type_name(role)}",
                             field=role_key)
        text_key = _pick(raw, options.text_key, TEXT_KEYS)
        if text_key is None:
            looked = options.text_key or ", ".join(TEXT_KEYS)
            raise InputError(f"{where} has no text field (looked for: {looked})")
        text, dropped = _text_of(raw[text_key], where, text_key)
        dropped_parts += dropped
        role = clean_text(role)
        if normalize_role(role) in NON_DIALOGUE_ROLES:
            skipped["non_dialogue_role"] = skipped.get("non_dialogue_role", 0) + 1
            continue
        text = clean_text(text).strip()
        if not text:
            skipped["empty_text"] = skipped.get("empty_text", 0) + 1
            continue
        turns.append(Turn(role=role, text=text, index=index, gold=_gold(raw, where)))
    meta = {k: record[k] for k in ("survey_score", "emotion_type", "problem_type") if k in record}
    if options.record_ratings:
        meta["ratings"] = ratings_of_record(record, options.record_ratings)
    return Dialogue(dialogue_id=dialogue_id, turns=turns, source=source, meta=meta, skipped=skipped,
                    turns_read=len(raw_turns), truncated_parts=dropped_parts)


def _dialogue_id(record: dict, options: ReaderOptions, source: str) -> str:
    """The first id field present: text as it is, an integer as its decimal digits; absent, null or
    "" means none (then FILE:LINE). Any other type is an error: a float or boolean id would not
    survive a round trip through text (1.0 vs 1), and an object or list is no id at all."""
    keys = (options.id_key,) if options.id_key else ID_KEYS
    for key in keys:
        value = record.get(key)
        if value is None or value == "":
            continue
        if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
            return clean_id(str(value))
        got = json.dumps(value) if isinstance(value, (bool, float)) else _type_name(value)
        raise InputError(f"field '{key}' (the dialogue id) must be text or an integer, got {got}", field=key)
    if options.id_key:
        raise InputError(f"no usable '{options.id_key}' field (given by --id-key)", field=options.id_key)
    return source
