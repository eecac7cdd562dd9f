"""A shipped or exported bundle's agreement with human labels on the held-out splits (`empathy-score
eval`): classification, corpus-rate validity and perceived validity, and its text form."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..schemas import Task
from .data import LabelledWindow, esconv_windows
from .heldout_scores import evaluate_outputs
from .metrics import format_table
from .splits import GROUPS, default_splits


def evaluate_bundle(model: str | None, data_dir: str | None, heldout: list[str], device: str = "cpu",
                    threads: int | None = None, bootstrap=None, log=None) -> dict:
    """A bundle's agreement with human labels on the default held-out splits of `data_dir` (or on the
    ESConv-format `heldout` files): macro-P/R/F1 per label, a bootstrap CI of each data set's mean
    macro-F1 (resampling dialogues; `bootstrap` is a statistics.BootstrapSettings or None), and for
    bundles with perceived scores their validity (perceived_validity.py)."""
    from ..bundle import load_bundle
    from ..reporting.statistics import BootstrapSettings
    from ..runtime import load_backend
    from .evaluation import grouped_f1_intervals
    bundle = load_bundle(model)
    backend = load_backend(bundle, device, threads)
    if heldout:
        tests = {Path(p).name: esconv_windows(p, bundle.window) for p in heldout}
    else:
        tests = default_splits(data_dir, bundle.window, log=log).tests
    report = {"model": bundle.signature(), "bootstrap": bootstrap.to_dict() if bootstrap else None}
    for name, labelled in tests.items():
        raw = backend.predict([x.window for x in labelled])
        report[name] = evaluate_outputs(bundle.tasks, raw.outputs, labelled)
        if bootstrap:
            logits = {t.name: raw.outputs[f"logits.{t.name}"] for t in bundle.tasks}
            report[name]["f1_intervals"] = grouped_f1_intervals(
                bundle.tasks, logits, [x.labels for x in labelled], [x.group for x in labelled], GROUPS, bootstrap)
        report[name]["rates"] = rates_report(bundle.tasks, raw.outputs, labelled, bootstrap or BootstrapSettings())
    if bundle.perceived and not heldout:
        from .perceived_validity import validity_report
        report["perceived_validity"] = validity_report(
            lambda windows: backend.predict(windows).outputs["perceived"], data_dir, bundle.window,
            bundle.perceived, bootstrap or BootstrapSettings())
    return report


def rates_report(tasks: list[Task], outputs: dict, labelled: list[LabelledWindow], bootstrap) -> dict:
    """Every rate metric's corpus bias and dialogue-level r against the gold labels, with the bundle's
    own rate estimators (rate_validity.py)."""
    from ..pipeline.quantification import quantifier
    from .rate_validity import rate_validity
    found = {}
    for task in tasks:
        rows = [i for i, x in enumerate(labelled) if task.name in x.labels]
        if rows:
            found.update(rate_validity(task, outputs[f"logits.{task.name}"][rows],
                                       np.array([labelled[i].labels[task.name] for i in rows]),
                                       [labelled[i].group for i in rows], quantifier(task), bootstrap))
    return found


def format_evaluation(report: dict) -> str:
    """`evaluate_bundle`'s report as text: the Table-4 style table, the CIs, the perceived validity."""
    from .perceived_validity import format_validity
    tests = [name for name, part in report.items() if isinstance(part, dict) and "means" in part]
    rows, lines = {}, []
    for name in tests:
        for group, means in report[name]["means"].items():
            rows[f"{name}: {group} (mean over labels)"] = means
        for task in report[name]["tasks"].values():
            rows.update({f"{name}:   {label}": scores for label, scores in task["labels"].items()})
    for name in tests:
        for group, ci in report[name].get("f1_intervals", {}).items():
            lines.append(f"{name}: {group} mean macro-F1 {100 * report[name]['means'][group]['f1']:.1f}, "
                         f"{100 * ci['confidence']:.0f}% CI {100 * ci['low']:.1f}-{100 * ci['high']:.1f} "
                         f"({ci['n_dialogues']} dialogues resampled)")
    for name in tests:
        for metric, r in report[name].get("rates", {}).items():
            lines.append(f"{name}: {metric} corpus {r['predicted']:.3f} vs true {r['true']:.3f} (bias "
                         f"{r['bias']:+.3f} [{r['bias_ci'][0]:+.3f}, {r['bias_ci'][1]:+.3f}]), dialogue-level r "
                         f"{r['dialogue_r']:.2f} [{r['dialogue_r_ci'][0]:.2f}, {r['dialogue_r_ci'][1]:.2f}]")
    if "perceived_validity" in report:
        lines.append(format_validity(report["perceived_validity"]))
    return "\n".join([format_table(rows), *lines])
