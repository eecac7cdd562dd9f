"""Time of `empathy-score analyze` after scoring: ratings read, matched and related to every metric
(agreement with bootstrap CIs, Table 2), apart from the scoring that comes before it.

    python benchmarks/analyze.py ../shared/data/esconv/valid.json \
        --record-rating empathy=survey_score.seeker.empathy \
        --record-rating relevance=survey_score.seeker.relevance \
        --record-rating final_intensity=survey_score.seeker.final_emotion_intensity \
        [--ratings runs/esconv-feedback.csv] [--repeats 3] [-m MODEL] [-o result.json]

The logs are scored once (`api.score_for_analysis`, timed apart); the analysis (`io.ratings.read_ratings`
+ `api.relate_ratings`, 1000 bootstrap resamples as `analyze` does by default) is run `--repeats`
times in the same process: the first run includes importing scipy.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe  # noqa: E402

from empathy_metric.api import Scorer, relate_ratings, score_for_analysis  # noqa: E402
from empathy_metric.io.ratings import RatingsOptions, RecordRating, read_ratings  # noqa: E402
from empathy_metric.io.readers import ReaderOptions  # noqa: E402
from empathy_metric.reporting.statistics import BootstrapSettings  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("logs")
    parser.add_argument("--ratings")
    parser.add_argument("--record-rating", action="append", default=[])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("-m", "--model")
    parser.add_argument("-o", "--output")
    args = parser.parse_args()
    scorer = Scorer.from_pretrained(args.model)
    carried = tuple(RecordRating.parse(t) for t in args.record_rating)
    start = time.perf_counter()
    scored = score_for_analysis(scorer, [args.logs], ReaderOptions(record_ratings=carried))
    scoring_s = time.perf_counter() - start
    runs = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        side = read_ratings(args.ratings, RatingsOptions()).ratings if args.ratings else []
        related = relate_ratings(scorer, scored, scored.record_ratings + side, {}, BootstrapSettings())
        runs.append(time.perf_counter() - start)
    result = {"logs": args.logs, "ratings": args.ratings, "record_ratings": args.record_rating,
              "model": scorer.bundle.signature()["model"], "dialogues_scored": scored.counts.dialogues_scored,
              "turns_scored": scored.counts.turns_scored, "scoring_s": round(scoring_s, 2),
              "analyses": [{"rating": a["rating"], "level": a["level"], "units": a.get("n_units")}
                           for a in related["analyses"]],
              "analysis_s": [round(t, 2) for t in runs], "analysis_median_s": round(statistics.median(runs), 2),
              "machine": describe()}
    print(json.dumps(result, indent=2))
    if args.output:
        Path(args.output).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
