"""Prompts for seq2seq rank classification, built from the instructions stored in instructions.json.

A *prompt* is one question asked of a window; the model's answer is the verbaliser it finds most
likely. Output tasks map to prompts:
- a task with its own entry (EMH levels, customer-service intents) is one prompt whose verbalisers
  are the task's labels, in order;
- a task with one entry per label (`esconv_strategy:<label>`) is asked as one yes/no prompt per
  label (the paper's binary ESConv strategies); its logits are log P(yes) per label, so the
  predicted label is the one with the highest P(yes);
- each perceived dimension is a yes/no prompt (`perceived:<dim>`); its score is P(yes).
Binary prompts always list their verbalisers as [no, yes].
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from ...errors import ModelError
from ...schemas import Task

INSTRUCTIONS_FILE = Path(__file__).resolve().parent / "instructions.json"


@dataclass(frozen=True)
class Prompt:
    name: str                      # "emh_explorations", "esconv_strategy:Question", "perceived:empathy"
    kind: str                      # "task" | "label" (yes/no for one label of a task) | "perceived"
    output: str                    # the output task or perceived dimension it feeds
    label: int                     # kind "label": index of that label in the output task; else -1
    verbalisers: tuple[str, ...]
    before: str                    # text before the dialogue window
    after: str                     # text after it

    def to_dict(self) -> dict:
        return {**asdict(self), "verbalisers": list(self.verbalisers)}

    @classmethod
    def from_dict(cls, data: dict) -> "Prompt":
        return cls(name=data["name"], kind=data["kind"], output=data["output"], label=int(data["label"]),
                   verbalisers=tuple(data["verbalisers"]), before=data["before"], after=data["after"])


def load_instructions(path: Path = INSTRUCTIONS_FILE) -> dict:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelError(f"{path}: cannot read the seq2seq instructions ({exc})") from None


def _texts(library: dict, key: str, instructions: bool) -> tuple[str, str]:
    entry = library["prompts"][key]
    form = library["format"]["with_instructions" if instructions else "without_instructions"]
    fields = {**entry, "domain": library["domains"].get(entry.get("domain", ""), entry.get("domain", "")),
              "marker": library["scored_turn_marker"]}
    return form["before"].format(**fields), form["after"].format(**fields)


def _prompt(library: dict, key: str, kind: str, output: str, label: int, n_labels: int,
            instructions: bool) -> Prompt:
    verbalisers = tuple(library["prompts"][key]["verbalisers"])
    if len(verbalisers) != n_labels or len(set(verbalisers)) != n_labels:
        raise ModelError(f"{INSTRUCTIONS_FILE.name}: prompt '{key}' needs {n_labels} distinct verbalisers, "
                         f"has {list(verbalisers)}")
    before, after = _texts(library, key, instructions)
    return Prompt(key, kind, output, label, verbalisers, before, after)


def build_prompts(tasks: list[Task], perceived_dims: list[str], instructions: bool = True,
                  library: dict | None = None) -> list[Prompt]:
    """The prompts that answer `tasks` and `perceived_dims`, in a fixed order."""
    library = library or load_instructions()
    known = library["prompts"]
    prompts = []
    for task in tasks:
        per_label = [f"{task.name}:{label}" for label in task.labels]
        if task.name in known:
            prompts.append(_prompt(library, task.name, "task", task.name, -1, len(task.labels), instructions))
        elif all(key in known for key in per_label):
            prompts += [_prompt(library, key, "label", task.name, k, 2, instructions)
                        for k, key in enumerate(per_label)]
        else:
            raise ModelError(f"no seq2seq instruction for task '{task.name}' in {INSTRUCTIONS_FILE.name} "
                             f"(add '{task.name}' or one '{task.name}:<label>' entry per label)")
    for dim in perceived_dims:
        key = f"perceived:{dim}"
        if key not in known:
            raise ModelError(f"no seq2seq instruction for perceived dimension '{dim}' in "
                             f"{INSTRUCTIONS_FILE.name} (add '{key}')")
        prompts.append(_prompt(library, key, "perceived", dim, -1, 2, instructions))
    return prompts
