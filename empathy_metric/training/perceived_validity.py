"""How well the perceived scores track people, on held-out human judgements, with bootstrap CIs over
dialogues and with reply length partialled out:

- third-party turn ratings (WASSA 2023 dev conversations): Pearson r per turn;
- the ESConv seeker's own per-turn helpfulness ratings (valid.json): Spearman, each rating against
  the mean score of the supporter turns it rates;
- the seeker's post-chat survey (valid.json): Spearman of the dialogue mean; ROC-AUC of low- against
  high-rated conversations (the public stand-in for failed against successful support).

Length is a confound of every perceived signal (longer replies are rated better and are easy to
score), so each figure is also given as a partial correlation with log(1 + words) removed from both
sides (ROC-AUC: of the score's residual after regressing out length).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import stats
from sklearn.metrics import roc_auc_score

from ..dialogue import Dialogue
from ..pipeline.windows import dialogue_windows
from .data import AGENT_ROLES, esconv_group, survey_score

FEEDBACK_FILE = "valid_feedback.jsonl"
REQUIRED_FILES = ("wassa23/dev_context_w1.txt", "wassa23/dev_context_labels.txt", "esconv/valid.json",
                  f"esconv/{FEEDBACK_FILE}")
# Conversations rated low / high on the survey's empathy item (1..5): the failed / successful proxy.
SURVEY_LOW_MAX, SURVEY_HIGH_MIN = 3, 5


def log_words(texts) -> np.ndarray:
    return np.log1p([len(t.split()) for t in texts])


def residual(values: np.ndarray, control: np.ndarray) -> np.ndarray:
    """What is left of `values` after a least-squares line on `control`."""
    design = np.column_stack([np.ones_like(control), control])
    coef, *_ = np.linalg.lstsq(design, values, rcond=None)
    return values - design @ coef


def pearson(x, y) -> float:
    return float(np.corrcoef(x, y)[0, 1]) if len(x) > 2 and np.std(x) > 0 and np.std(y) > 0 else float("nan")


def spearman(x, y) -> float:
    return pearson(stats.rankdata(x), stats.rankdata(y))


def partial(statistic, x, y, length) -> float:
    """`statistic` of x and y after removing length from both (ranks first for Spearman)."""
    if statistic is spearman:
        x, y, length = stats.rankdata(x), stats.rankdata(y), stats.rankdata(length)
    return pearson(residual(np.asarray(x, float), length), residual(np.asarray(y, float), length))


def partial_auc(labels, scores, length) -> float:
    return float(roc_auc_score(labels, residual(np.asarray(scores, float), np.asarray(length, float))))


@dataclass
class Rows:
    """Items to correlate (turns, ratings or dialogues), each with its dialogue for resampling."""
    score: np.ndarray
    truth: np.ndarray
    length: np.ndarray
    group: np.ndarray


def bootstrap_ci(rows: Rows, statistic, settings) -> tuple[float, float]:
    """CI of statistic(score, truth, length) resampling whole dialogues (their items are not
    independent); `settings` is a statistics.BootstrapSettings."""
    groups, index = np.unique(rows.group, return_inverse=True)
    if len(groups) < 2:
        return float("nan"), float("nan")
    members = [np.flatnonzero(index == g) for g in range(len(groups))]

    def resampled(sample):
        picked = np.concatenate([members[g] for g in sample])
        return statistic(rows.score[picked], rows.truth[picked], rows.length[picked])

    result = stats.bootstrap((np.arange(len(groups)),), resampled, vectorized=False,
                             n_resamples=settings.n_resamples, confidence_level=settings.confidence,
                             method=settings.method, rng=np.random.default_rng(settings.seed))
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def correlation_report(rows: Rows, kind: str, settings) -> dict:
    """{kind, raw, raw_ci, length_partialled, length_partialled_ci, length_only, n, n_dialogues}."""
    base = pearson if kind == "pearson" else spearman

    def raw(s, t, _length):
        return base(s, t)

    def partialled(s, t, length):
        return partial(base, s, t, length)

    report = {"statistic": kind, "n": int(len(rows.score)), "n_dialogues": int(len(np.unique(rows.group)))}
    for name, statistic in (("raw", raw), ("length_partialled", partialled)):
        report[name] = statistic(rows.score, rows.truth, rows.length)
        report[f"{name}_ci"] = bootstrap_ci(rows, statistic, settings)
    report["length_only"] = base(rows.length, rows.truth)
    return report


def auc_report(rows: Rows, settings) -> dict:
    """ROC-AUC of the score for truth == 1 (high) against 0 (low), raw and length-partialled."""
    def raw(s, t, _length):
        return float(roc_auc_score(t, s)) if 0 < t.sum() < len(t) else float("nan")

    def partialled(s, t, length):
        return partial_auc(t, s, length) if 0 < t.sum() < len(t) else float("nan")

    report = {"n_high": int(rows.truth.sum()), "n_low": int(len(rows.truth) - rows.truth.sum())}
    for name, statistic in (("raw", raw), ("length_partialled", partialled)):
        report[name] = statistic(rows.score, rows.truth, rows.length)
        report[f"{name}_ci"] = bootstrap_ci(rows, statistic, settings)
    report["length_only"] = raw(rows.length, rows.truth, None)
    return report


def by_dialogue(rows: Rows) -> Rows:
    """One row per dialogue: the means of its items' scores, ratings and lengths (what a gate reads is
    a dialogue mean, so its validity is measured on dialogue means)."""
    ids, index = np.unique(rows.group, return_inverse=True)
    counts = np.bincount(index)

    def mean(values):
        return np.bincount(index, weights=values) / counts
    return Rows(mean(rows.score), mean(rows.truth), mean(rows.length), ids)


def turn_rows(scores: np.ndarray, labelled: list, column: int) -> Rows:
    """Turn-level rows of rated windows (training.data.LabelledWindow) for perceived column `column`."""
    keep = [i for i, x in enumerate(labelled) if not np.isnan(x.perceived[column])]
    return Rows(score=scores[keep], truth=np.array([labelled[i].perceived[column] for i in keep]),
                length=log_words([labelled[i].window.target for i in keep]),
                group=np.array([labelled[i].group for i in keep]))


def read_feedback(data_dir: str | Path) -> dict[int, list[tuple[int, int]]]:
    """valid.json line (1-based) -> [(seeker turn index carrying the rating, rating 1..5)]."""
    path = Path(data_dir) / "esconv" / FEEDBACK_FILE
    found = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            record = json.loads(line)
            found[int(record["line"])] = [(int(f["turn_index"]), int(f["feedback"])) for f in record["feedback"]]
    return found


def feedback_rows(dialogues: list[Dialogue], scored: dict[tuple[str, int], float],
                  feedback: dict[int, list[tuple[int, int]]], valid_path: str) -> Rows:
    """One row per seeker rating: the mean score of the supporter turns since the previous rating."""
    score, truth, length, group = [], [], [], []
    for dialogue in dialogues:
        line = int(dialogue.source.rsplit(":", 1)[-1])
        previous = -1
        for turn_index, rating in feedback.get(line, []):
            rated = [t for t in dialogue.turns if previous < t.index < turn_index
                     and t.role.lower() in AGENT_ROLES and (dialogue.dialogue_id, t.index) in scored]
            previous = turn_index
            if rated:
                score.append(np.mean([scored[(dialogue.dialogue_id, t.index)] for t in rated]))
                truth.append(rating)
                length.append(np.mean(log_words([t.text for t in rated])))
                group.append(esconv_group(valid_path, dialogue))
    return Rows(np.array(score), np.array(truth, float), np.array(length), np.array(group))


def survey_rows(dialogues: list[Dialogue], scored: dict[tuple[str, int], float], valid_path: str,
                binary: bool, item: str = "empathy") -> Rows:
    """One row per rated dialogue: the dialogue mean score against the survey's `item` (empathy,
    relevance; binary: 1 = high, 0 = low; dialogues in between are left out)."""
    score, truth, length, group = [], [], [], []
    for dialogue in dialogues:
        rating = survey_score(dialogue, item)
        turns = [t for t in dialogue.turns if (dialogue.dialogue_id, t.index) in scored]
        if np.isnan(rating) or not turns:
            continue
        if binary:
            if SURVEY_LOW_MAX < rating < SURVEY_HIGH_MIN:
                continue
            rating = float(rating >= SURVEY_HIGH_MIN)
        score.append(np.mean([scored[(dialogue.dialogue_id, t.index)] for t in turns]))
        truth.append(rating)
        length.append(np.mean(log_words([t.text for t in turns])))
        group.append(esconv_group(valid_path, dialogue))
    return Rows(np.array(score), np.array(truth, float), np.array(length), np.array(group))


def validity_report(predict, data_dir: str | Path, settings, dims: list[str], bootstrap) -> dict:
    """Every perceived validity figure of a model on the held-out human judgements in `data_dir`
    (WASSA dev, ESConv valid.json with its seeker feedback and survey), per turn and per dialogue, and
    the perturbation suites.
    `predict(windows)` returns the perceived scores [n, len(dims)]."""
    from ..errors import UsageError
    from ..io.readers import ReaderOptions, read_dialogues
    from .perturbation_suite import run_suite
    from .wassa import SPEAKERS, wassa_dialogues, wassa_windows
    data = Path(data_dir)
    missing = [name for name in REQUIRED_FILES if not (data / name).is_file()]
    if missing:
        raise UsageError(f"{data_dir}: missing {', '.join(missing)} (perceived validity needs the "
                         "layout of ../shared/data)")
    report: dict = {"dimensions": list(dims), "length_control": "log(1 + words of the reply)",
                    "bootstrap": bootstrap.to_dict()}
    wassa = wassa_windows(data / "wassa23", "dev", settings, ["empathy"])
    wassa_scores = predict([x.window for x in wassa])
    report["wassa_dev_turns"], report["wassa_dev_dialogues"] = {}, {}
    for k, dim in enumerate(dims):
        rows = turn_rows(wassa_scores[:, k], wassa, 0)
        report["wassa_dev_turns"][dim] = correlation_report(rows, "pearson", bootstrap)
        report["wassa_dev_dialogues"][dim] = correlation_report(by_dialogue(rows), "pearson", bootstrap)
    valid_path = str(data / "esconv" / "valid.json")
    dialogues = list(read_dialogues(valid_path, ReaderOptions(format="esconv", agent_roles=AGENT_ROLES)))
    windows = [w for d in dialogues for w in dialogue_windows(d, settings, AGENT_ROLES)]
    scores = predict(windows)
    feedback = read_feedback(data)
    for section in ("esconv_feedback", "esconv_feedback_dialogues", "esconv_survey", "esconv_survey_low_high"):
        report[section] = {}
    for k, dim in enumerate(dims):
        scored = {(w.dialogue_id, w.turn_index): float(s) for w, s in zip(windows, scores[:, k])}
        rated = feedback_rows(dialogues, scored, feedback, valid_path)
        report["esconv_feedback"][dim] = correlation_report(rated, "spearman", bootstrap)
        report["esconv_feedback_dialogues"][dim] = correlation_report(by_dialogue(rated), "pearson", bootstrap)
        report["esconv_survey"][dim] = correlation_report(
            survey_rows(dialogues, scored, valid_path, binary=False), "spearman", bootstrap)
        report["esconv_survey_low_high"][dim] = auc_report(
            survey_rows(dialogues, scored, valid_path, binary=True), bootstrap)
    report["perturbations"] = {
        "esconv_valid": run_suite(predict, dialogues, settings, AGENT_ROLES, dims, bootstrap),
        "wassa_dev": run_suite(predict, wassa_dialogues(data / "wassa23", "dev"), settings,
                               frozenset({SPEAKERS[1]}), dims, bootstrap)}
    return report


def _sd_ci(change: dict) -> str:
    low, high = change.get("ci_in_sd", (float("nan"), float("nan")))
    return f"[{low:+.2f}, {high:+.2f}]"


def format_validity(report: dict) -> str:
    """The report as text lines: one per figure, raw and length-partialled, with CIs."""
    def ci(pair):
        return f"[{pair[0]:.3f}, {pair[1]:.3f}]"
    lines = []
    for section, what in (("wassa_dev_turns", "WASSA dev turns, Pearson r with third-party empathy"),
                          ("wassa_dev_dialogues", "WASSA dev conversations, Pearson r of the means"),
                          ("esconv_feedback", "ESConv valid, Spearman with the seeker's per-turn ratings"),
                          ("esconv_feedback_dialogues", "ESConv valid, Pearson r of dialogue means with the "
                                                        "seeker's mean rating"),
                          ("esconv_survey", "ESConv valid, Spearman of the dialogue mean with the survey"),
                          ("esconv_survey_low_high", "ESConv valid, ROC-AUC low- vs high-rated dialogues")):
        for dim, r in report[section].items():
            size = f"n={r['n']}" if "n" in r else f"{r['n_high']} high / {r['n_low']} low"
            lines.append(f"{what}: perceived.{dim} {r['raw']:.3f} {ci(r['raw_ci'])}, length-partialled "
                         f"{r['length_partialled']:.3f} {ci(r['length_partialled_ci'])}; length alone "
                         f"{r['length_only']:.3f} ({size})")
    for suite, result in report["perturbations"].items():
        for kind, by_dim in result["changes"].items():
            for dim, change in by_dim.items():
                lines.append(f"perturbation {suite} {kind}: perceived.{dim} change {change['mean_change']:+.4f} "
                             f"{ci(change['ci'])} ({change['change_in_sd']:+.2f} {_sd_ci(change)} "
                             "between-dialogue SD; "
                             f"{result['n_dialogues']} dialogues)")
    return "\n".join(lines)
