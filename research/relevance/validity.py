"""Held-out validity of `perceived.relevance`, beside the bundle's other perceived dimensions.

    PYTHONPATH=$PWD nice -n 10 python research/relevance/validity.py /work/runs/relevance/bundle \
        --heldout /work/runs/generic/features-heldout.npz --data ../shared/data -o /work/runs/relevance/validity.json

The held-out rows are those of research/understanding/features.py --split heldout (ESConv valid.json,
WASSA dev, the EMH 15% test part: each real reply, generic lines from the "eval" sets never trained
on, a reply from another conversation and, for ESConv, another turn of the same one); the bundle
scores every row again (its `perceived` columns, relevance last). The report is understanding/
validity.py's: ROC-AUC per data set and negative kind (raw and reply length partialled out, bootstrap
CI over dialogues), every-reply releases in between-dialogue SD, agreement with people.
`--record BUNDLE` writes `validity.metrics["perceived.relevance"]` into that bundle's manifest.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from empathy_metric.bundle import load_bundle, record_manifest_key
from empathy_metric.reporting.statistics import BootstrapSettings
from empathy_metric.runtime import load_backend
from empathy_metric.training.validity_record import finite_or_null

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "understanding"))
import validity as understanding_validity  # noqa: E402
from features import build_rows  # noqa: E402

COMMAND = ("PYTHONPATH=$PWD python research/relevance/validity.py BUNDLE --heldout features-heldout.npz "
           "--data ../shared/data -o validity.json --record BUNDLE")


def bundle_scores(folder: Path, data: Path, heldout: dict) -> dict[str, np.ndarray]:
    bundle = load_bundle(folder)
    rows = build_rows(data, "heldout", bundle.window, 37)          # features.py's seed: the same rows
    texts = np.array([r[0].target for r in rows])
    if len(rows) != len(heldout["text"]) or not (texts == heldout["text"]).all():
        raise SystemExit("the held-out rows differ from the features file's: rebuild it with features.py")
    # the features file names dialogues by the path it was read from: use this run's names
    heldout["dialogue_id"] = np.array([r[0].dialogue_id for r in rows])
    heldout["group"] = np.array([str(r[3]) for r in rows])
    perceived = load_backend(bundle, threads=2).predict([r[0] for r in rows]).outputs["perceived"]
    return {dim: perceived[:, i] for i, dim in enumerate(bundle.manifest["perceived"]["dimensions"])}


def entry(report: dict) -> dict:
    def auc(source, kind):
        a = report["discrimination"][source][kind]["relevance"]
        return {"auc": a["raw"], "ci": a["raw_ci"], "length_partialled": a["length_partialled"],
                "length_partialled_ci": a["length_partialled_ci"], "n_dialogues": a.get("n_dialogues")}

    def release(name, kind):
        c = report["releases"][name][kind]["relevance"]
        return {"change": c["mean_change"], "ci": c["ci"], "change_in_sd": c["change_in_sd"], "ci_in_sd": c["ci_in_sd"]}
    r = report["agreement"]["relevance"]["esconv_feedback_dialogues"]
    negatives = [(s, k) for s, kinds in report["discrimination"].items() for k in kinds]
    return {"dialogue_r": r["raw"], "dialogue_r_ci": list(r["raw_ci"]), "n_dialogues": r["n_dialogues"],
            "data": "ESConv valid.json: mean of the seeker's per-turn helpfulness ratings per dialogue",
            "measured_with": COMMAND,
            "real_vs_negative_auc": {f"{s}_{k}": auc(s, k) for s, k in negatives},
            "releases_in_sd": {f"{name}_{kind}": release(name, kind) for name, rel in report["releases"].items()
                               for kind in understanding_validity.NEGATIVES if kind in rel}}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--heldout", required=True, type=Path)
    parser.add_argument("--data", required=True, type=Path)
    parser.add_argument("-o", "--output", required=True, type=Path)
    parser.add_argument("--n-resamples", type=int, default=1000)
    parser.add_argument("--record", type=Path)
    parser.add_argument("--reuse", action="store_true", help="read the report from -o when it exists")
    args = parser.parse_args()
    v = understanding_validity
    if args.reuse and args.output.is_file():
        report = json.loads(args.output.read_text())
    else:
        heldout = dict(np.load(args.heldout))
        scores = bundle_scores(args.bundle, args.data, heldout)
        bootstrap = BootstrapSettings(n_resamples=args.n_resamples)
        report = {"bootstrap": bootstrap.to_dict(),
                  "discrimination": v.discrimination(heldout, scores, bootstrap),
                  "releases": {"esconv_valid": v.releases(heldout, scores, "esconv", bootstrap),
                               "wassa_dev": v.releases(heldout, scores, "wassa", bootstrap)},
                  "agreement": v.agreement(heldout, scores, args.data, bootstrap)}
        args.output.write_text(json.dumps(finite_or_null(report), indent=1) + "\n")
    v.show(report)
    if args.record:
        validity = dict(load_bundle(args.record).manifest["validity"])
        validity["metrics"] = {**validity["metrics"], "perceived.relevance": finite_or_null(entry(report))}
        record_manifest_key(args.record, "validity", validity)


if __name__ == "__main__":
    main()
