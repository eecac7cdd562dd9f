"""How often real ESConv supporters and the generic releases trigger `repetition.rate`, per threshold.

    PYTHONPATH=$PWD python research/understanding/repetition_threshold.py --data ../shared/data
"""
from __future__ import annotations

import argparse
import random
from pathlib import Path

import numpy as np

from empathy_metric.io.readers import ReaderOptions, read_dialogues
from empathy_metric.pipeline.repetition import repeats
from empathy_metric.training.data import AGENT_ROLES
from empathy_metric.training.perturbations import CANNED, GENERIC_SETS


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True, type=Path)
    args = parser.parse_args()
    options = ReaderOptions(format="esconv", agent_roles=AGENT_ROLES)
    dialogues = [[t.text for t in d.turns if t.role in AGENT_ROLES]
                 for d in read_dialogues(str(args.data / "esconv" / "valid.json"), options)]
    releases = {"real": lambda texts, rng: texts,
                "canned": lambda texts, rng: [rng.choice(CANNED["eval"]) for _ in texts]}
    for kind, lines in GENERIC_SETS.items():
        releases[kind] = lambda texts, rng, pool=lines["eval"]: [rng.choice(pool) for _ in texts]
    print(f"{len(dialogues)} dialogues, {sum(map(len, dialogues))} supporter turns (ESConv valid.json)")
    print("threshold release             turns flagged  dialogue mean rate  dialogues with any")
    for threshold in (0.6, 0.7, 0.8, 0.9, 1.0):
        for name, make in releases.items():
            rng = random.Random(f"37:{name}")
            flags = [repeats(make(texts, rng), threshold) for texts in dialogues]
            turns = np.mean([f for fs in flags for f in fs])
            rates = np.mean([np.mean(fs) for fs in flags if fs])
            anyone = np.mean([any(fs) for fs in flags if fs])
            print(f"{threshold:9.1f} {name:18s} {turns:13.3f} {rates:19.3f} {anyone:19.3f}")


if __name__ == "__main__":
    main()
