"""Turn-level Pearson r of trained checkpoints' `perceived.empathy` with WASSA dev's third-party
ratings, raw and reply-length partialled, with 95% bootstrap CIs resampling conversations, and the
paired difference of each checkpoint against the first (same resamples). For research runs that are
not exported (`eval` takes bundles).

    python research/perceived/checkpoint_wassa_r.py --data ../shared/data CKPT [CKPT...]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from empathy_metric.pipeline.encoding import WindowEncoder, load_tokenizer
from empathy_metric.pipeline.windows import WindowSettings
from empathy_metric.reporting.statistics import BootstrapSettings
from empathy_metric.training.model import load_checkpoint, predict_encoded
from empathy_metric.training.perceived_validity import Rows, bootstrap_ci, correlation_report, pearson, turn_rows
from empathy_metric.training.wassa import wassa_windows


def empathy_scores(ckpt: Path, folder: Path) -> tuple[np.ndarray, list]:
    model, config = load_checkpoint(ckpt)
    settings = WindowSettings.from_dict(config["window"])
    labelled = wassa_windows(folder, "dev", settings, ["empathy"])
    encoder = WindowEncoder(load_tokenizer(ckpt / "tokenizer.json"), settings)
    outputs = predict_encoded(model, encoder.encode([x.window for x in labelled]), "cpu", encoder.pad_id)
    column = config.get("perceived", ["empathy"]).index("empathy")
    return outputs["perceived"][:, column], labelled


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("checkpoints", nargs="+", type=Path)
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    args = parser.parse_args()
    settings = BootstrapSettings()
    first = None
    for ckpt in args.checkpoints:
        scores, labelled = empathy_scores(ckpt, args.data / "wassa23")
        rows = turn_rows(scores, labelled, 0)
        report = {"checkpoint": str(ckpt), **correlation_report(rows, "pearson", settings)}
        if first is None:
            first = rows
        else:      # paired: both scores on the same resampled conversations
            both = Rows(np.stack([rows.score, first.score], 1), rows.truth, rows.length, rows.group)
            report["minus_first"] = pearson(rows.score, rows.truth) - pearson(first.score, first.truth)
            report["minus_first_ci"] = bootstrap_ci(
                both, lambda s, t, _l: pearson(s[:, 0], t) - pearson(s[:, 1], t), settings)
        print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
