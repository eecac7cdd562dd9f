"""Write ESConv valid.json as a baseline "release" and as regressed releases, for `empathy-score compare`.

Each file holds the same conversations (openai format, ids kept): `base.jsonl` the real supporter
replies; `no_op.jsonl` an identical copy; `off_topic.jsonl`, `canned.jsonl`, `curt.jsonl` and
`padded.jsonl`, `generic_sympathy.jsonl`, `generic_questions.jsonl` and `repetitive.jsonl` every
supporter reply replaced as training/perturbation_suite.py does (canned replies, fillers and generic
lines from the held-out "eval" lists, never seen in training).

    python research/perceived/make_releases.py ../shared/data/esconv/valid.json runs/releases
    empathy-score compare runs/releases/base.jsonl runs/releases/canned.jsonl --max-drop perceived.empathy=0
"""
from __future__ import annotations

import json
import random
import sys
from pathlib import Path

from empathy_metric.io.readers import ReaderOptions, read_dialogues
from empathy_metric.training.data import AGENT_ROLES
from empathy_metric.training.perturbation_suite import KINDS, perturbed


def as_record(dialogue) -> dict:
    messages = [{"role": "assistant" if t.role.lower() in AGENT_ROLES else "user", "content": t.text}
                for t in dialogue.turns]
    return {"id": dialogue.dialogue_id, "messages": messages}


def main(valid_json: str, out_dir: str) -> None:
    dialogues = list(read_dialogues(valid_json, ReaderOptions(format="esconv", agent_roles=AGENT_ROLES)))
    for number, dialogue in enumerate(dialogues, start=1):
        dialogue.dialogue_id = f"esconv-valid-{number}"      # path-free ids: files pair by id
    pool = [(d.dialogue_id, t.text) for d in dialogues for t in d.turns
            if t.role.lower() in AGENT_ROLES and t.text.strip()]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    releases = {"base": dialogues}
    for kind in KINDS:
        rng = random.Random(f"0:{kind}")
        releases[kind] = [perturbed(d, kind, AGENT_ROLES, pool, rng) for d in dialogues]
    for name, release in releases.items():
        with open(out / f"{name}.jsonl", "w", encoding="utf-8") as handle:
            for dialogue in release:
                handle.write(json.dumps(as_record(dialogue), ensure_ascii=False) + "\n")
    print(f"{len(dialogues)} dialogues -> {', '.join(f'{n}.jsonl' for n in releases)} in {out}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
