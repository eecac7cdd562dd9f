"""Worse replies made from good ones: what a perceived-empathy metric must score lower (off-topic,
canned, curt) or no higher (an irrelevant neutral sentence appended).

Training (contrastive examples) and evaluation (the held-out perturbation suite) draw their canned
replies and filler sentences from disjoint lists, so the suite measures generalisation, not recall
of the training phrases.
"""
from __future__ import annotations

import random
from dataclasses import replace

from ..pipeline.windows import Window

CANNED = {
    "train": ("OK.", "I see.", "Please describe your issue.", "Thank you for your message.",
              "Can you provide more details?", "Noted.", "Sure.", "Let me check that for you.",
              "Is there anything else I can help you with?", "Understood.", "Alright.",
              "Please hold on.", "Your request has been received.", "Hmm.", "Yes."),
    "eval": ("Okay.", "Got it.", "Please tell me your problem.", "Thanks for reaching out.",
             "What is your question?", "Fine.", "Right.", "We will look into it.",
             "Anything else?", "Acknowledged.", "Sounds good.", "Please wait."),
}
FILLERS = {
    "train": ("The weather forecast says it may rain on Tuesday.", "This message was sent at noon.",
              "The library opens at nine in the morning.", "There are seven days in a week.",
              "The train timetable changes in spring.", "Paper is made from wood pulp."),
    "eval": ("The museum is closed on Mondays.", "This reply was written on a computer.",
             "Some buses run every fifteen minutes.", "A year has twelve months.",
             "The shop sells both tea and coffee.", "Rivers flow towards the sea."),
}
CURT_WORDS = (2, 4)      # a curt reply keeps this many of the first words (inclusive range)
MIN_WORDS_TO_CUT = 6     # shorter replies are curt already


def curt(text: str, rng: random.Random) -> str | None:
    """The first few words of a reply, or None when the reply is too short to be cut."""
    words = text.split()
    if len(words) < MIN_WORDS_TO_CUT:
        return None
    return " ".join(words[:rng.randint(*CURT_WORDS)])


def canned(rng: random.Random, part: str = "train") -> str:
    return rng.choice(CANNED[part])


def padded(text: str, rng: random.Random, part: str = "train") -> str:
    return f"{text} {rng.choice(FILLERS[part])}"


def off_topic(pool: list[tuple[str, str]], group: str, rng: random.Random) -> str:
    """A reply from another conversation: `pool` holds (group, text) of real replies."""
    for _ in range(100):
        other_group, text = rng.choice(pool)
        if other_group != group and text.strip():
            return text
    raise ValueError("no reply from another conversation in the pool")


def worse_reply(kind: str, text: str, group: str, pool: list[tuple[str, str]], rng: random.Random,
                part: str = "train") -> str | None:
    """The reply made worse in one way (`kind`: off_topic, canned, curt); None if it cannot be."""
    if kind == "off_topic":
        return off_topic(pool, group, rng)
    if kind == "canned":
        return canned(rng, part)
    if kind == "curt":
        return curt(text, rng)
    raise ValueError(f"unknown perturbation {kind!r}")


WORSE_KINDS = ("off_topic", "canned", "curt")


def with_target(window: Window, text: str) -> Window:
    return replace(window, target=text)
