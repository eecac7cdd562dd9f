"""`repetition.rate`: the share of a dialogue's agent turns that nearly repeat an earlier agent turn of
the same dialogue. No model: a lexical measure, for the bot that answers every message with the same
few stock lines (each line may look fine alone; fifteen of them do not).

Similarity: difflib's SequenceMatcher ratio (2 * matched / total length) over the two turns' *word*
sequences after normalisation (lower case, punctuation dropped, whitespace collapsed). Words rather
than characters, so that "How are you feeling?" and "How are you doing?" (3 of 4 words shared, ratio
0.75) stay apart while a stock line with a word or two changed (a name, "really") is caught; a ratio,
not word-set Jaccard, so that word order counts and a long reply sharing its function words with an
earlier one does not match. A turn repeats when its best ratio against any earlier agent turn is at
least REPEAT_THRESHOLD. On ESConv valid.json, 0.8 flags 0.7% of the real supporters' turns (dialogue
mean rate 0.006), and 41-47% of the turns of releases answering at random from 10-12 stock lines (the
perturbation suite's canned and generic sets); any threshold from 0.7 to 1.0 gives the same shares,
so the choice is not fragile (research/understanding/repetition_threshold.py).
A turn without any word is never a repeat (and it still counts in the share).
"""
from __future__ import annotations

import re
from difflib import SequenceMatcher

REPEAT_THRESHOLD = 0.8
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")


def normalised_words(text: str) -> tuple[str, ...]:
    return tuple(_WORD.findall(text.lower()))


def repeats(texts: list[str], threshold: float = REPEAT_THRESHOLD) -> list[bool]:
    """For each turn (in dialogue order), whether it nearly repeats an earlier one."""
    earlier: list[tuple[str, ...]] = []
    flags = []
    for text in texts:
        words = normalised_words(text)
        matcher = SequenceMatcher(None, autojunk=False)
        matcher.set_seq2(words)          # difflib caches details of the second sequence
        found = False
        if words:
            for other in earlier:
                matcher.set_seq1(other)
                # the cheap upper bounds first: most pairs are far apart
                if matcher.real_quick_ratio() >= threshold and matcher.quick_ratio() >= threshold \
                        and matcher.ratio() >= threshold:
                    found = True
                    break
            earlier.append(words)
        flags.append(found)
    return flags


def repetition_rate(texts: list[str], threshold: float = REPEAT_THRESHOLD) -> float:
    """The share of turns that nearly repeat an earlier one (0 for no turns)."""
    flags = repeats(texts, threshold)
    return sum(flags) / len(flags) if flags else 0.0
