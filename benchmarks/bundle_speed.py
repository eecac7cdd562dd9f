"""End-to-end CLI speed of two bundles on one input, in interleaved rounds: is a revision of a model
(a new head, say) as fast as the one it replaces?

    .venv/bin/python benchmarks/bundle_speed.py BASELINE_BUNDLE CANDIDATE_BUNDLE [--input FILE] [--repeat 3]

Each round runs `empathy-score score INPUT -m BUNDLE -o out.jsonl -q` for the baseline, then the
candidate (process start to files written), so both see the same load; the table gives each round's
seconds and the median ratio of turns/s (candidate / baseline). Numbers go to BENCHMARKS.md by hand,
with the machine line this prints.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from machine import describe

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_INPUT = ROOT.parent / "shared" / "data" / "esconv" / "valid.json"


def timed_run(bundle: str, input_path: str, out_dir: Path) -> tuple[float, int]:
    """(seconds, turns scored) of one CLI run."""
    out = out_dir / "turns.jsonl"
    summary = out_dir / "summary.json"
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "empathy_metric.cli.main", "score", input_path, "-m", bundle,
                    "-o", str(out), "-o", str(summary), "-q"], check=True)
    seconds = time.perf_counter() - start
    turns = json.loads(summary.read_text())["counts"]["turns_scored"]
    out.unlink()
    summary.unlink()
    return seconds, turns


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("baseline")
    parser.add_argument("candidate")
    parser.add_argument("--input", default=str(DEFAULT_INPUT))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(json.dumps(describe()))
    ratios = []
    with tempfile.TemporaryDirectory() as folder:
        for round_number in range(1, args.repeat + 1):
            base_s, turns = timed_run(args.baseline, args.input, Path(folder))
            cand_s, cand_turns = timed_run(args.candidate, args.input, Path(folder))
            assert turns == cand_turns, "the two bundles scored different turns"
            ratios.append(base_s / cand_s)
            print(f"round {round_number}: baseline {base_s:.1f} s ({turns / base_s:.0f} turns/s), "
                  f"candidate {cand_s:.1f} s ({turns / cand_s:.0f} turns/s), ratio {ratios[-1]:.3f}")
    print(f"median candidate/baseline turns/s ratio over {args.repeat} rounds: {statistics.median(ratios):.3f}")


if __name__ == "__main__":
    main()
