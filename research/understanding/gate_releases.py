"""The recommended gate set against ESConv valid.json replayed as releases (research/perceived/make_releases.py):
the real supporters must pass (exit 0), every regressed release must fail (exit 1). Real
`empathy-score score` runs, one per release file.

    python research/perceived/make_releases.py ../shared/data/esconv/valid.json /work/runs/generic/releases
    PYTHONPATH=$PWD nice -n 10 python research/understanding/gate_releases.py /work/runs/generic/releases \
        -o /work/runs/generic/gates.json [--model BUNDLE] [--gates "--fail-under perceived.empathy=0.29 ..."]

Default gates: the README's recommended set (with `perceived.relevance`, issue 36).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

GATES = ("--fail-under perceived.empathy=0.29 --fail-under perceived.understanding=0.6 "
         "--fail-under perceived.relevance=0.5 --fail-over repetition.rate=0.1")
RELEASES = ("base", "no_op", "padded", "canned", "curt", "off_topic", "generic_sympathy", "generic_questions",
            "repetitive")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("releases", type=Path)
    parser.add_argument("-o", "--output", required=True)
    parser.add_argument("--model", default=None)
    parser.add_argument("--gates", default=GATES)
    args = parser.parse_args()
    gates = args.gates.split()
    model = ["-m", args.model] if args.model else []
    found = {"gates": args.gates, "releases": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for name in RELEASES:
            summary = Path(tmp) / f"{name}.json"
            run = subprocess.run([sys.executable, "-m", "empathy_metric.cli.main", "score",
                                  str(args.releases / f"{name}.jsonl"), "-q", "--workers", "1",
                                  "-o", str(summary), *model, *gates], capture_output=True, text=True)
            data = json.loads(summary.read_text())
            corpus = {m: [round(v[k], 4) for k in ("mean", "ci_low", "ci_high")] for m, v in data["corpus"].items()
                      if m.startswith("perceived.") or m == "repetition.rate"}
            failed = [g["verdict"] for g in data["gates"] if not g["passed"]]
            found["releases"][name] = {"exit": run.returncode, "corpus": corpus, "failed": failed}
            print(name, "exit", run.returncode, corpus, failed, flush=True)
    Path(args.output).write_text(json.dumps(found, indent=1) + "\n")


if __name__ == "__main__":
    main()
