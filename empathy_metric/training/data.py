"""Training examples from labelled dialogues, through the scoring readers, windows and encoder.

Each example supervises only the heads it has labels for (absent labels, NaN perceived targets): ESConv turns
teach the strategy head and the perceived head, EMH pairs the three EPITOME heads.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..dialogue import Dialogue
from ..io.readers import ReaderOptions, read_dialogues
from ..pipeline.encoding import EncodedWindow, WindowEncoder
from ..pipeline.windows import Window, WindowSettings, dialogue_windows
from ..schemas import ESCONV_STRATEGY, PERCEIVED_DIMENSIONS, Task
from .rationales import token_rationale_labels

EMH_FILES = {"emh_emotional_reactions": "emotional-reactions-reddit.csv",
             "emh_interpretations": "interpretations-reddit.csv",
             "emh_explorations": "explorations-reddit.csv"}
AGENT_ROLES = frozenset({"sys", "supporter"})


@dataclass
class Example:
    encoded: EncodedWindow
    labels: dict[str, int]          # task -> class index (tasks without a label are absent)
    perceived: np.ndarray           # float32 [dims], NaN where unknown
    group: str                      # dialogue id: folds never split a group
    source: str                     # "esconv" | "emh" | "wassa"
    rationale: np.ndarray | None = None   # [target tokens, EMH tasks] token labels (rationales.py)
    soft: dict[str, np.ndarray] | None = None   # task -> a teacher's class probabilities (distillation.py)
    contrast: list[EncodedWindow] | None = None  # the same context with worse replies (contrast.py)
    padded: EncodedWindow | None = None          # the reply with an irrelevant sentence appended


def survey_score(dialogue: Dialogue, key: str) -> float:
    """One item of the ESConv seeker's post-chat survey (1..5), NaN when absent."""
    survey = (dialogue.meta.get("survey_score") or {}).get("seeker") or {}
    try:
        return float(survey[key])
    except (KeyError, TypeError, ValueError):
        return float("nan")


def perceived_targets(dialogue: Dialogue) -> np.ndarray:
    """ESConv supporter turns: `helpfulness` learns, as weak supervision, the mean of the seeker's
    survey empathy and relevance scaled to 0..1; `empathy` (a third-party turn rating) is unknown."""
    helpfulness = ((survey_score(dialogue, "empathy") + survey_score(dialogue, "relevance")) / 2 - 1) / 4
    values = {"empathy": float("nan"), "helpfulness": helpfulness}
    return np.array([values[d] for d in PERCEIVED_DIMENSIONS], dtype=np.float32)


@dataclass
class LabelledWindow:
    """A window with its gold labels: what any architecture (encoder or seq2seq) trains on."""
    window: Window
    labels: dict[str, int]          # task -> class index (tasks without a label are absent)
    perceived: np.ndarray           # float32 [dims], NaN where unknown
    group: str
    source: str
    rationales: dict[str, str] = field(default_factory=dict)   # EMH task -> `|`-separated spans


def esconv_windows(path: str, settings: WindowSettings, task: Task = ESCONV_STRATEGY) -> list[LabelledWindow]:
    options = ReaderOptions(format="esconv", agent_roles=AGENT_ROLES)
    found = []
    for dialogue in read_dialogues(path, options):
        targets = perceived_targets(dialogue)
        group = esconv_group(path, dialogue)
        for window in dialogue_windows(dialogue, settings, AGENT_ROLES):
            strategy = window.gold.get("strategy")
            labels = {task.name: task.labels.index(strategy)} if strategy in task.labels else {}
            found.append(LabelledWindow(window, labels, targets, group, "esconv"))
    return found


def esconv_group(path: str, dialogue: Dialogue) -> str:
    """ESConv dialogues have no id: the reader names them FILE:LINE. Splits hash the file's *name* and
    line, so they do not depend on how the data folder's path is spelled."""
    line = dialogue.source.rsplit(":", 1)[-1]
    return f"{Path(path).name}:{line}"


def emh_windows(folder: str, settings: WindowSettings, log=None) -> list[LabelledWindow]:
    """The three EPITOME files share (sp_id, rp_id) pairs: one window per pair, three labels.
    A few pairs are annotated twice in one file: see `resolve_annotations`; `log` gets the counts."""
    options = ReaderOptions(format="emh", agent_roles=AGENT_ROLES)
    pairs: dict[str, Dialogue] = {}
    annotations: dict[str, dict[str, list[tuple[int, str]]]] = {}     # task -> pair -> [(level, spans)]
    for task, file_name in EMH_FILES.items():
        for dialogue in read_dialogues(str(Path(folder) / file_name), options):
            pairs.setdefault(dialogue.dialogue_id, dialogue)
            level = dialogue.turns[-1].gold.get("level") if dialogue.turns else None
            if level is not None and str(level).strip() in ("0", "1", "2"):
                spans = dialogue.turns[-1].gold.get("rationales")
                annotations.setdefault(task, {}).setdefault(dialogue.dialogue_id, []).append(
                    (int(level), spans if isinstance(spans, str) else ""))
    levels: dict[str, dict[str, int]] = {}
    rationales: dict[str, dict[str, str]] = {}
    for task, by_pair in annotations.items():
        repeated, conflicting = resolve_annotations(task, by_pair, levels, rationales)
        if repeated and log:
            log(f"EMH {task}: {repeated} pairs annotated more than once; {conflicting} of them with "
                f"different levels, left unlabelled for this task")
    nan = np.full(len(PERCEIVED_DIMENSIONS), np.nan, dtype=np.float32)
    found = []
    for dialogue_id in sorted(pairs):
        windows = dialogue_windows(pairs[dialogue_id], settings, AGENT_ROLES)
        if windows:
            seeker_post = dialogue_id.split("_")[0]      # responses to one post stay on one side
            found.append(LabelledWindow(windows[-1], levels.get(dialogue_id, {}), nan, seeker_post, "emh",
                                        rationales.get(dialogue_id, {})))
    return found


def resolve_annotations(task: str, by_pair: dict[str, list[tuple[int, str]]],
                        levels: dict[str, dict[str, int]], rationales: dict[str, dict[str, str]]) -> tuple[int, int]:
    """One label per pair and task into `levels` / `rationales`. Rows repeating a pair are merged when
    they give the same level (their rationale spans joined); when the levels differ the gold label is
    ambiguous, so the pair gets none for this task rather than whichever row came last.
    Returns (pairs annotated more than once, of which with different levels)."""
    repeated = conflicting = 0
    for pair, rows in by_pair.items():
        repeated += len(rows) > 1
        if len({level for level, _ in rows}) > 1:
            conflicting += 1
            continue
        levels.setdefault(pair, {})[task] = rows[0][0]
        spans = list(dict.fromkeys(s for _, joined in rows for s in joined.split("|") if s.strip()))
        if spans:
            rationales.setdefault(pair, {})[task] = "|".join(spans)
    return repeated, conflicting


def encode_examples(labelled: list[LabelledWindow], encoder: WindowEncoder) -> list[Example]:
    encoded = encoder.encode([lw.window for lw in labelled])
    return [Example(e, lw.labels, lw.perceived, lw.group, lw.source, _rationale_labels(lw, encoder))
            for e, lw in zip(encoded, labelled)]


def _rationale_labels(lw: LabelledWindow, encoder: WindowEncoder):
    """Token labels aligned with the scored turn's tokens in the window (None without EMH labels)."""
    if lw.source != "emh" or not lw.window.target:
        return None
    offsets = encoder.tokenizer.encode(lw.window.target, add_special_tokens=False).offsets
    offsets = encoder.cut_target(offsets)                      # the window may cut a long turn
    return token_rationale_labels(offsets, lw.window.target, lw.labels, lw.rationales)


def group_fraction(group: str, seed: int) -> float:
    """A stable pseudo-random number in [0, 1) per group: splits never depend on file order."""
    digest = hashlib.sha256(f"{seed}:{group}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2 ** 64


def holdout_split(examples: list, fraction: float, seed: int):
    """Anything with a `.group` (Example, LabelledWindow): whole groups go to one side."""
    held = [e for e in examples if group_fraction(e.group, seed) < fraction]
    kept = [e for e in examples if group_fraction(e.group, seed) >= fraction]
    return kept, held


def test_fold(group: str, k: int, seed: int) -> int:
    """The 0-based fold whose test part holds this group."""
    return min(int(group_fraction(group, seed) * k), k - 1)


def kfold_splits(examples: list, k: int, seed: int):
    """k (train, test) pairs; every group lands in exactly one test fold."""
    fold_of = [test_fold(e.group, k, seed) for e in examples]
    for fold in range(k):
        yield ([e for e, f in zip(examples, fold_of) if f != fold],
               [e for e, f in zip(examples, fold_of) if f == fold])
