"""`empathy-score eval`: a bundle's agreement with human labels, reported like the paper's Table 4."""
from __future__ import annotations

import json
from pathlib import Path

import click

from ..cli.exits import reports_errors
from ..cli.gate_options import bootstrap_options, bootstrap_settings
from ..cli.main import cli


@cli.command(name="eval")
@click.option("-m", "--model", help="Bundle folder or shipped model name (default: the shipped model).")
@click.option("--data", "data_dir", default="../shared/data", show_default=True,
              help="Folder laid out like ../shared/data; evaluates the default held-out splits "
                   "(ESConv valid.json, the 15% EMH pairs held out from training).")
@click.option("--heldout", type=click.Path(exists=True, dir_okay=False), multiple=True,
              help="Evaluate on this ESConv-format file instead of the default splits (repeatable).")
@click.option("-o", "--out", "out_json", help="Write the full report as JSON.")
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True)
@click.option("--threads", type=int)
@bootstrap_options
@reports_errors
def evaluate(model, data_dir, heldout, out_json, device, threads, n_resamples, confidence, seed):
    """Score held-out human-labelled data with a bundle; macro-P/R/F1 and accuracy per label, and a
    bootstrap CI (resampling dialogues) of each data set's mean macro-F1."""
    from ..runtime import load_backend
    from ..bundle import load_bundle
    from .data import esconv_windows
    from .evaluation import grouped_f1_intervals
    from .experiment import GROUPS, default_splits, evaluate_outputs
    from ..reporting.statistics import BootstrapSettings
    from .metrics import format_table
    bundle = load_bundle(model)
    backend = load_backend(bundle, device, threads)
    if heldout:
        tests = {Path(p).name: esconv_windows(p, bundle.window) for p in heldout}
    else:
        tests = default_splits(data_dir, bundle.window, log=lambda m: click.echo(m, err=True)).tests
    bootstrap = bootstrap_settings(n_resamples, confidence, seed)
    report = {"model": bundle.signature(), "bootstrap": bootstrap.to_dict() if bootstrap else None}
    rows, intervals = {}, []
    for name, labelled in tests.items():
        raw = backend.predict([x.window for x in labelled])
        report[name] = evaluate_outputs(bundle.tasks, raw.outputs, labelled)
        if bootstrap:
            logits = {t.name: raw.outputs[f"logits.{t.name}"] for t in bundle.tasks}
            report[name]["f1_intervals"] = grouped_f1_intervals(
                bundle.tasks, logits, [x.labels for x in labelled], [x.group for x in labelled], GROUPS, bootstrap)
            intervals += [(name, group, report[name]["means"][group]["f1"], ci)
                          for group, ci in report[name]["f1_intervals"].items()]
        for group, means in report[name]["means"].items():
            rows[f"{name}: {group} (mean over labels)"] = means
        for task in report[name]["tasks"].values():
            rows.update({f"{name}:   {label}": scores for label, scores in task["labels"].items()})
    click.echo(format_table(rows))
    for name, group, f1, ci in intervals:
        click.echo(f"{name}: {group} mean macro-F1 {100 * f1:.1f}, {100 * ci['confidence']:.0f}% CI "
                   f"{100 * ci['low']:.1f}-{100 * ci['high']:.1f} ({ci['n_dialogues']} dialogues resampled)")
    if bundle.perceived and not heldout:
        from .perceived_validity import format_validity, validity_report
        report["perceived_validity"] = validity_report(
            lambda windows: backend.predict(windows).outputs["perceived"], data_dir, bundle.window,
            bundle.perceived, bootstrap or BootstrapSettings())
        click.echo(format_validity(report["perceived_validity"]))
    if out_json:
        Path(out_json).write_text(json.dumps(report, indent=2))
