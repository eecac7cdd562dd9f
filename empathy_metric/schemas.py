"""Label schemas: the tasks a model can predict, their ordered labels, and what the labels mean.

A model bundle's manifest stores the tasks it was trained on (as `Task.to_dict()`); these constants
are the project's own schemas, used to train the default model and to write instructions for
seq2seq models. Names here are part of the public output: do not rename them.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Task:
    name: str
    labels: tuple[str, ...]
    ordinal: bool = False          # labels are ordered levels (mean level is meaningful)
    description: str = ""
    definitions: dict[str, str] = field(default_factory=dict)   # label -> what it means
    # How a trained model's label rates are estimated (pipeline/quantification.py); {} = the share of
    # argmax labels. Fitted on held-back data and stored with the task in the bundle manifest.
    rates: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        found = {"name": self.name, "labels": list(self.labels), "ordinal": self.ordinal,
                 "description": self.description, "definitions": dict(self.definitions)}
        if self.rates:
            found["rates"] = dict(self.rates)
        return found

    @classmethod
    def from_dict(cls, data: dict) -> "Task":
        return cls(name=data["name"], labels=tuple(data["labels"]), ordinal=bool(data.get("ordinal")),
                   description=data.get("description", ""),
                   definitions=dict(data.get("definitions", {})), rates=dict(data.get("rates", {})))


ESCONV_STRATEGY = Task(
    name="esconv_strategy",
    labels=("Question", "Restatement or Paraphrasing", "Reflection of feelings", "Self-disclosure",
            "Affirmation and Reassurance", "Providing Suggestions", "Information", "Others"),
    description="The emotional-support strategy of the supporter's turn (ESConv, Liu et al. 2021).",
    definitions={
        "Question": "Asks for information about the seeker's problem or feelings.",
        "Restatement or Paraphrasing": "Rephrases what the seeker said, more concisely, to show it was heard.",
        "Reflection of feelings": "Names and reflects the feelings the seeker expresses.",
        "Self-disclosure": "Shares a similar experience or feeling of the supporter's own.",
        "Affirmation and Reassurance": "Affirms the seeker's strengths or efforts, gives reassurance.",
        "Providing Suggestions": "Suggests a way to change or cope with the situation.",
        "Information": "Gives useful information: facts, data, resources, answers.",
        "Others": "Greetings, pleasantries and anything no other strategy covers.",
    },
)

_EMH_LEVELS = ("none", "weak", "strong")
EMH_EMOTIONAL_REACTIONS = Task(
    name="emh_emotional_reactions", labels=_EMH_LEVELS, ordinal=True,
    description="Expresses emotions such as warmth, compassion or concern felt after reading the "
                "seeker's post (EPITOME, Sharma et al. 2020).",
    definitions={"none": "No emotional reaction.",
                 "weak": "Alludes to emotions without naming them (e.g. 'Everything will be fine').",
                 "strong": "Names the feeling (e.g. 'I feel really sad for you')."})
EMH_INTERPRETATIONS = Task(
    name="emh_interpretations", labels=_EMH_LEVELS, ordinal=True,
    description="Communicates an understanding of the feelings and experiences inferred from the "
                "seeker's post (EPITOME).",
    definitions={"none": "No understanding communicated.",
                 "weak": "A generic acknowledgement (e.g. 'I understand how you feel').",
                 "strong": "Specifies the inferred feeling or experience, or shares a similar one."})
EMH_EXPLORATIONS = Task(
    name="emh_explorations", labels=_EMH_LEVELS, ordinal=True,
    description="Improves understanding of the seeker by exploring feelings and experiences not "
                "stated in the post (EPITOME).",
    definitions={"none": "No exploration.",
                 "weak": "A generic question (e.g. 'What happened?').",
                 "strong": "A specific question about the seeker's feelings or experiences."})

CUSTOMER_SERVICE_INTENTS = (
    "ask contact", "ask details", "ask confirmation", "aware of problem", "describe problem",
    "express sympathy", "express reassurance", "express apology", "answer question", "clarify",
    "explain", "excuse", "inform action", "instruct action", "tentative solution", "contact others")


def customer_service_task(intent: str) -> Task:
    """One binary task per customer-service intent (a turn may carry several intents)."""
    slug = intent.replace(" ", "_")
    return Task(name=f"cs_{slug}", labels=("no", "yes"),
                description=f"Whether the agent's turn carries the customer-service intent '{intent}'.")


# Perceived empathy, per turn, 0..1 (see the model card): `empathy` is the expected third-party
# perceived-empathy rating / 5 (WASSA 2023); `helpfulness` how helpful the seeker is expected to find
# the reply (weakly supervised by ESConv's seeker survey; validated on the seeker's per-turn ratings).
PERCEIVED_DIMENSIONS = ("empathy", "helpfulness")

DEFAULT_TASKS = (ESCONV_STRATEGY, EMH_EMOTIONAL_REACTIONS, EMH_INTERPRETATIONS, EMH_EXPLORATIONS)
