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
# Generic support lines: what a bot that never engages with the person's situation says to everyone.
# Kept apart like CANNED: "train" lines teach `perceived.understanding` what generic sounds like;
# "eval" lines (never trained on) make the held-out generic releases of the perturbation suite.
GENERIC_SYMPATHY = {
    "train": ("I'm so sorry you are going through this.", "That must be really hard for you.",
              "I understand how you feel.", "I'm sorry to hear that. That sounds tough.",
              "I can imagine how difficult this is for you.", "That sounds so stressful, I'm sorry.",
              "I'm here for you, and I'm sorry things are hard right now.",
              "It's completely understandable to feel that way.", "Your feelings are valid.",
              "I know this is a difficult time for you.", "That is really unfortunate, I'm sorry.",
              "I totally understand, that must be painful.", "Sending you lots of support.",
              "I'm sorry, that sounds like a lot to deal with.", "I hear you. That must be hard."),
    "eval": ("I'm truly sorry that you have to deal with all of this.", "That sounds incredibly hard.",
             "I really feel for you right now.", "It makes sense that you feel this way.",
             "I'm sorry things have been so difficult lately.", "What you are feeling is completely normal.",
             "I can tell this has been weighing on you, and I'm so sorry.",
             "That sounds painful. I'm sorry you're experiencing it.", "You are not alone in feeling this.",
             "I'm sorry. That must be overwhelming."),
}
GENERIC_QUESTIONS = {
    "train": ("How are you feeling?", "Can you tell me more?", "How does that make you feel?",
              "What happened next?", "How long has this been going on?", "What do you think?",
              "Is there anything else on your mind?", "How are you coping?",
              "Do you want to talk about it?", "What would help you right now?"),
    "eval": ("How do you feel about that?", "Could you say more about it?", "What's on your mind today?",
             "How have you been holding up?", "Would you like to share more?",
             "What are you thinking right now?", "How is that affecting you?",
             "What else is going on?", "When did this start?", "What would you like to happen?"),
}
GENERIC_SETS = {"generic_sympathy": GENERIC_SYMPATHY, "generic_questions": GENERIC_QUESTIONS}
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


def generic(rng: random.Random, kind: str = "generic_sympathy", part: str = "train") -> str:
    """A stock line of one generic set (`GENERIC_SETS`), from its `part`."""
    return rng.choice(GENERIC_SETS[kind][part])


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
    """The reply made worse in one way (`kind`: off_topic, canned, curt, or a stock line of a
    `GENERIC_SETS` kind); None if it cannot be."""
    if kind in GENERIC_SETS:
        return generic(rng, kind, part)
    if kind == "off_topic":
        return off_topic(pool, group, rng)
    if kind == "canned":
        return canned(rng, part)
    if kind == "curt":
        return curt(text, rng)
    raise ValueError(f"unknown perturbation {kind!r}")


WORSE_KINDS = ("off_topic", "canned", "curt")
CONTRAST_KINDS = WORSE_KINDS + tuple(GENERIC_SETS)     # what a recipe's `contrast_kinds` may list


def with_target(window: Window, text: str) -> Window:
    return replace(window, target=text)
