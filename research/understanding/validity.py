"""Held-out validity of `perceived.understanding` (and, beside it, the shipped perceived dimensions),
from the held-out features (features.py --split heldout) and the trained head:

    PYTHONPATH=$PWD nice -n 10 python research/understanding/validity.py \
        /work/runs/generic/features-heldout.npz /work/runs/generic/head.npz --data ../shared/data \
        -o /work/runs/generic/validity.json --record empathy_metric/models/minilm-empathy-v4

- ROC-AUC real vs generic (the "eval" template sets, never trained on) and real vs swapped replies,
  per data set, raw and with reply length partialled out, bootstrap CI over dialogues;
- releases on ESConv valid.json and WASSA dev: every reply generic (or swapped): the change of the
  corpus mean in between-dialogue SD of the real dialogue means, with a bootstrap CI;
- agreement with people: ESConv valid seekers' per-turn ratings and post-chat survey, WASSA dev
  third-party empathy ratings, EMH (15% test part) interpretations strong vs weak.
`--record BUNDLE` writes the `perceived.understanding` entry of the bundle manifest's `validity` (as
`eval --record-validity` writes the others: dialogue-level r with the seekers' per-turn ratings), with
the discrimination and release figures beside it.
"""
from __future__ import annotations

import argparse
import ast
import json
import sys
from pathlib import Path

import numpy as np

from empathy_metric.io.readers import ReaderOptions, read_dialogues
from empathy_metric.reporting.statistics import BootstrapSettings, mean_intervals
from empathy_metric.training.data import AGENT_ROLES, emh_windows, holdout_split
from empathy_metric.training.experiment import EMH_TEST_FRACTION, SPLIT_SEED
from empathy_metric.training.perceived_validity import (Rows, auc_report, by_dialogue, correlation_report,
                                                        feedback_rows, log_words, read_feedback, survey_rows)
from empathy_metric.training.validity_record import finite_or_null

sys.path.insert(0, str(Path(__file__).parent))
from train_head import features, head_scores  # noqa: E402

NEGATIVES = ("generic_sympathy", "generic_questions", "swapped_other", "swapped_same")


def scores_of(data, weights) -> dict[str, np.ndarray]:
    perceived = data["perceived"]
    return {"empathy": perceived[:, 0], "helpfulness": perceived[:, 1],
            "understanding": head_scores(weights, features(data))}


def discrimination(data, scores, bootstrap) -> dict:
    report = {}
    for source in ("esconv", "wassa", "emh", "all"):
        in_source = np.ones(len(data["kind"]), bool) if source == "all" else data["source"] == source
        for kind in NEGATIVES:
            rows = in_source & np.isin(data["kind"], ["real", kind])
            if not (data["kind"][rows] == kind).any():
                continue
            for dim in scores:
                report.setdefault(source, {}).setdefault(kind, {})[dim] = auc_report(Rows(
                    scores[dim][rows], data["label"][rows].astype(float), log_words(data["text"][rows]),
                    data["group"][rows]), bootstrap)
    return report


def releases(data, scores, source: str, bootstrap) -> dict:
    """Every reply of a data set's dialogues replaced: the change of each dialogue's mean score."""
    in_source = data["source"] == source
    ids = sorted(set(data["dialogue_id"][in_source & (data["kind"] == "real")]))
    report = {"n_dialogues": len(ids)}

    def means(kind, dim):
        rows = in_source & (data["kind"] == kind)
        return {d: float(np.mean(scores[dim][rows & (data["dialogue_id"] == d)])) for d in ids
                if (rows & (data["dialogue_id"] == d)).any()}
    for dim in scores:
        real = means("real", dim)
        spread = float(np.std(list(real.values()), ddof=1))
        report.setdefault("real_mean", {})[dim] = float(np.mean(list(real.values())))
        report.setdefault("between_dialogue_sd", {})[dim] = spread
        for kind in NEGATIVES:
            changed = means(kind, dim)
            paired = [d for d in ids if d in changed]
            if not paired:
                continue
            delta = np.array([[changed[d] - real[d]] for d in paired])
            iv = mean_intervals(delta, bootstrap)
            report.setdefault(kind, {})[dim] = {
                "mean": float(np.mean([changed[d] for d in paired])), "mean_change": float(iv.mean[0]),
                "ci": [float(iv.low[0]), float(iv.high[0])], "change_in_sd": float(iv.mean[0] / spread),
                "ci_in_sd": [float(iv.low[0] / spread), float(iv.high[0] / spread)], "n_dialogues": len(paired)}
    return report


def check_esconv_ids(data, data_dir: Path) -> None:
    """ESConv dialogue ids carry the path they were read from: another spelling of --data than the one
    features.py was given matches nothing and would leave every ESConv agreement figure NaN, silently."""
    valid_path = str(data_dir / "esconv" / "valid.json")
    ids = {d.dialogue_id for d in read_dialogues(valid_path, ReaderOptions(format="esconv", agent_roles=AGENT_ROLES))}
    esconv = data["dialogue_id"][data["source"] == "esconv"]
    if not ids & set(esconv):
        sys.exit(f"--data {data_dir}: no ESConv dialogue of the features file is in {valid_path}; "
                 f"pass --data as features.py was given it (its ids look like {str(esconv[0])!r})")


def agreement(data, scores, data_dir: Path, bootstrap) -> dict:
    report = {}
    valid_path = str(data_dir / "esconv" / "valid.json")
    dialogues = list(read_dialogues(valid_path, ReaderOptions(format="esconv", agent_roles=AGENT_ROLES)))
    feedback = read_feedback(data_dir)
    real = data["kind"] == "real"
    esconv = real & (data["source"] == "esconv")
    wassa = real & (data["source"] == "wassa")
    emh = real & (data["source"] == "emh")
    levels = {lw.window.dialogue_id: lw.labels.get("emh_interpretations") for lw in
              holdout_split(emh_windows(str(data_dir / "emh"), _settings()), EMH_TEST_FRACTION, SPLIT_SEED)[1]}
    for dim in scores:
        scored = {(d, int(t)): float(s) for d, t, s in zip(data["dialogue_id"][esconv], data["turn_index"][esconv],
                                                          scores[dim][esconv])}
        rated = feedback_rows(dialogues, scored, feedback, valid_path)
        section = report.setdefault(dim, {})
        section["esconv_feedback"] = correlation_report(rated, "spearman", bootstrap)
        section["esconv_feedback_dialogues"] = correlation_report(by_dialogue(rated), "pearson", bootstrap)
        section["esconv_survey"] = correlation_report(survey_rows(dialogues, scored, valid_path, False),
                                                      "spearman", bootstrap)
        section["esconv_survey_low_high"] = auc_report(survey_rows(dialogues, scored, valid_path, True), bootstrap)
        section["esconv_survey_relevance"] = correlation_report(
            survey_rows(dialogues, scored, valid_path, False, "relevance"), "spearman", bootstrap)
        truth = np.array([ast.literal_eval(g)["empathy"] for g in data["gold"][wassa]])
        turns = Rows(scores[dim][wassa], truth, log_words(data["text"][wassa]), data["dialogue_id"][wassa])
        section["wassa_dev_turns"] = correlation_report(turns, "pearson", bootstrap)
        section["wassa_dev_dialogues"] = correlation_report(by_dialogue(turns), "pearson", bootstrap)
        level = np.array([levels.get(d, -1) if levels.get(d) is not None else -1 for d in data["dialogue_id"][emh]])
        keep = np.isin(level, [1, 2])
        section["emh_interpretations_strong_vs_weak"] = auc_report(Rows(
            scores[dim][emh][keep], (level[keep] == 2).astype(float), log_words(data["text"][emh][keep]),
            data["group"][emh][keep]), bootstrap)
    return report


def validity_entry(report: dict, command: str) -> dict:
    r = report["agreement"]["understanding"]["esconv_feedback_dialogues"]
    def auc(source, kind):
        a = report["discrimination"][source][kind]["understanding"]
        return {"auc": a["raw"], "ci": a["raw_ci"], "length_partialled": a["length_partialled"],
                "length_partialled_ci": a["length_partialled_ci"]}
    def release(kind):
        c = report["releases"]["esconv_valid"][kind]["understanding"]
        return {"change": c["mean_change"], "ci": c["ci"], "change_in_sd": c["change_in_sd"], "ci_in_sd": c["ci_in_sd"]}
    agreement = report["agreement"]["understanding"]
    return {"dialogue_r": r["raw"], "dialogue_r_ci": list(r["raw_ci"]), "length_partialled_r": r["length_partialled"],
            "length_partialled_r_ci": list(r["length_partialled_ci"]), "n_dialogues": r["n_dialogues"],
            "data": "ESConv valid.json: mean of the seeker's per-turn helpfulness ratings per dialogue",
            "measured_with": command,
            "real_vs_generic_auc": {f"{source}_{kind}": auc(source, kind) for source in ("esconv", "wassa", "emh", "all")
                                    for kind in ("generic_sympathy", "generic_questions")},
            "real_vs_swapped_auc": {f"{source}_{kind}": auc(source, kind) for source, kind in
                                    (("esconv", "swapped_other"), ("esconv", "swapped_same"), ("wassa", "swapped_other"),
                                     ("emh", "swapped_other"))},
            "esconv_valid_releases": {kind: release(kind) for kind in NEGATIVES},
            "seeker_turn_ratings_spearman": [agreement["esconv_feedback"]["raw"], *agreement["esconv_feedback"]["raw_ci"]],
            "survey_empathy_spearman": [agreement["esconv_survey"]["raw"], *agreement["esconv_survey"]["raw_ci"]],
            "wassa_dev_turn_r": [agreement["wassa_dev_turns"]["raw"], *agreement["wassa_dev_turns"]["raw_ci"]],
            "emh_interpretations_strong_vs_weak_auc": [agreement["emh_interpretations_strong_vs_weak"]["raw"],
                                                       *agreement["emh_interpretations_strong_vs_weak"]["raw_ci"]]}


def _settings():
    from empathy_metric.bundle import load_bundle
    return load_bundle(None).window


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("features")
    parser.add_argument("head")
    parser.add_argument("--data", required=True, type=Path)
    parser.add_argument("-o", "--output", required=True)
    parser.add_argument("--n-resamples", type=int, default=1000)
    parser.add_argument("--reuse", action="store_true", help="read the report from -o when it exists")
    parser.add_argument("--record", type=Path, help="bundle folder whose manifest validity gets the entry")
    args = parser.parse_args()
    if args.reuse and Path(args.output).is_file():
        report = json.loads(Path(args.output).read_text())
    else:
        report = compute(args)
        Path(args.output).write_text(json.dumps(finite_or_null(report), indent=1) + "\n")
    show(report)
    if args.record:
        from empathy_metric.bundle import load_bundle, record_manifest_key
        validity = dict(load_bundle(args.record).manifest["validity"])
        validity["metrics"] = {**validity["metrics"], "perceived.understanding": finite_or_null(validity_entry(
            report, "PYTHONPATH=$PWD python research/understanding/validity.py /work/runs/generic/features-heldout.npz "
                    "/work/runs/generic/head.npz --data ../shared/data -o validity.json --record BUNDLE"))}
        record_manifest_key(args.record, "validity", validity)


def compute(args) -> dict:
    data = dict(np.load(args.features))
    check_esconv_ids(data, args.data)        # before minutes of bootstrap, not after
    weights = {k: v.astype(np.float32) for k, v in np.load(args.head).items() if k in
               ("mean", "scale", "w1", "b1", "w2", "b2")}
    bootstrap = BootstrapSettings(n_resamples=args.n_resamples)
    scores = scores_of(data, weights)
    report = {"bootstrap": bootstrap.to_dict(),
              "discrimination": discrimination(data, scores, bootstrap),
              "releases": {"esconv_valid": releases(data, scores, "esconv", bootstrap),
                           "wassa_dev": releases(data, scores, "wassa", bootstrap)},
              "agreement": agreement(data, scores, args.data, bootstrap)}
    return report


def show(report: dict) -> None:
    for source, kinds in report["discrimination"].items():
        for kind, by_dim in kinds.items():
            print(f"AUC {source:6s} real vs {kind:17s} " + "  ".join(
                f"{dim} {r['raw']:.3f} [{r['raw_ci'][0]:.3f}, {r['raw_ci'][1]:.3f}] (len-partialled {r['length_partialled']:.3f})"
                for dim, r in by_dim.items()))
    for name, rel in report["releases"].items():
        for kind in NEGATIVES:
            for dim, r in rel.get(kind, {}).items():
                print(f"release {name} {kind:17s} {dim:13s} {r['mean_change']:+.4f} [{r['ci'][0]:+.4f}, {r['ci'][1]:+.4f}]"
                      f" = {r['change_in_sd']:+.2f} SD [{r['ci_in_sd'][0]:+.2f}, {r['ci_in_sd'][1]:+.2f}]")
    for dim, sections in report["agreement"].items():
        for section, r in sections.items():
            print(f"agreement {dim:13s} {section:34s} {r['raw']:.3f} [{r['raw_ci'][0]:.3f}, {r['raw_ci'][1]:.3f}]"
                  f" len-partialled {r['length_partialled']:.3f} [{r['length_partialled_ci'][0]:.3f}, "
                  f"{r['length_partialled_ci'][1]:.3f}]")


if __name__ == "__main__":
    main()
