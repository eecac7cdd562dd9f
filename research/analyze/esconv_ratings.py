"""ESConv's per-turn seeker feedback as a ratings CSV for `empathy-score analyze --ratings`.

    python research/analyze/esconv_ratings.py ../shared/data/esconv/valid_feedback.jsonl \
        ../shared/data/esconv/valid.json runs/esconv-feedback.csv

`valid_feedback.jsonl` has one line per line of `valid.json` ({"line": N, "situation", "feedback":
[{"turn_index", "feedback"}]}); the reader names an ESConv record without an id `PATH:LINE`, with
PATH as given on the command line, so the second argument must be the log path exactly as it will be
given to `analyze`. Each rating sits on the seeker turn that carried it and rates the supporter turns
since the previous rating (analyze's rule for a rating on a non-agent turn). The situations of both
files are compared line by line, so a misaligned pair of files fails here.
"""
from __future__ import annotations

import csv
import json
import sys


def main(feedback_path: str, log_path: str, out_csv: str) -> None:
    with open(log_path, encoding="utf-8") as handle:
        situations = {n: json.loads(line).get("situation") for n, line in enumerate(handle, start=1)
                      if line.strip()}
    rows = []
    with open(feedback_path, encoding="utf-8") as handle:
        for record in map(json.loads, filter(str.strip, handle)):
            if situations.get(record["line"]) != record["situation"]:
                sys.exit(f"{feedback_path}: line {record['line']} does not match {log_path}:{record['line']}")
            rows += [(f"{log_path}:{record['line']}", f["turn_index"], f["feedback"]) for f in record["feedback"]]
    with open(out_csv, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["dialogue_id", "turn_index", "helpfulness"])
        writer.writerows(rows)
    print(f"{len(rows)} ratings of {len({r[0] for r in rows})} dialogues -> {out_csv}")


if __name__ == "__main__":
    main(*sys.argv[1:])
