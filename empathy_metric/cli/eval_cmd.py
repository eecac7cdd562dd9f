"""`empathy-score eval`: a bundle's agreement with human labels, reported like the paper's Table 4."""
from __future__ import annotations

import json
from pathlib import Path

import click

from .exits import reports_errors
from .main import cli


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
@reports_errors
def evaluate(model, data_dir, heldout, out_json, device, threads):
    """Score held-out human-labelled data with a bundle; macro-P/R/F1 and accuracy per label."""
    from ..backends import load_backend
    from ..bundle import load_bundle
    from ..training.data import esconv_windows
    from ..training.experiment import default_splits, evaluate_outputs
    from ..training.metrics import format_table
    bundle = load_bundle(model)
    backend = load_backend(bundle, device, threads)
    if heldout:
        tests = {Path(p).name: esconv_windows(p, bundle.window) for p in heldout}
    else:
        tests = default_splits(data_dir, bundle.window).tests
    report = {"model": bundle.signature()}
    rows = {}
    for name, labelled in tests.items():
        raw = backend.predict([x.window for x in labelled])
        report[name] = evaluate_outputs(bundle.tasks, raw.outputs, labelled)
        for group, means in report[name]["means"].items():
            rows[f"{name}: {group} (mean over labels)"] = means
        for task in report[name]["tasks"].values():
            rows.update({f"{name}:   {label}": scores for label, scores in task["labels"].items()})
    click.echo(format_table(rows))
    for name in tests:
        for dim, r in report[name].get("perceived", {}).items():
            click.echo(f"{name}: perceived.{dim}: Spearman {r.get('spearman', float('nan')):.3f}, "
                       f"ROC-AUC {r.get('roc_auc', float('nan')):.3f} (n={r['n_dialogues']} dialogues)")
    if out_json:
        Path(out_json).write_text(json.dumps(report, indent=2))
