"""`perceived.empathy` on the replayed releases, as a Markdown row per model: the real supporters'
corpus mean and each regressed release's change from it (research/understanding/gate_releases.py
output files).

    python research/perceived/release_table.py "v4=/work/runs/relevance/gates.json" "stack=RUN/gates.json"
"""
from __future__ import annotations

import json
import sys

RELEASES = ("padded", "canned", "curt", "off_topic", "generic_sympathy", "generic_questions", "repetitive")


def main() -> None:
    runs = dict(arg.split("=", 1) for arg in sys.argv[1:])
    print("| perceived.empathy | real supporters | " + " | ".join(r.replace("_", " ") for r in RELEASES) + " |")
    print("|---|---:|" + "---:|" * len(RELEASES))
    for name, path in runs.items():
        releases = json.load(open(path))["releases"]
        base = releases["base"]["corpus"]["perceived.empathy"][0]
        changes = (releases[r]["corpus"]["perceived.empathy"][0] - base for r in RELEASES)
        print(f"| {name} | {base:.3f} | " + " | ".join(f"{c:+.3f}" for c in changes) + " |")


if __name__ == "__main__":
    main()
