"""`empathy-score metrics`: every metric name a model produces, its direction and meaning."""
from __future__ import annotations

import json

import click

from .report import stdout


def _tasks_and_dims(model: str | None):
    """The model's tasks; without --model the shipped model's, or the project's default schemas
    when no model ships with this install (said on stderr)."""
    from ..bundle import DEFAULT_MODEL, load_bundle, shipped_models
    if model or DEFAULT_MODEL in shipped_models():
        bundle = load_bundle(model, verify=False)      # only the manifest is read
        return bundle.tasks, bundle.perceived, bundle.name, bundle.manifest.get("validity")
    from ..schemas import DEFAULT_TASKS, PERCEIVED_DIMENSIONS
    click.echo(f"note: no shipped model '{DEFAULT_MODEL}' found; listing the default schemas' metrics",
               err=True)
    return list(DEFAULT_TASKS), list(PERCEIVED_DIMENSIONS), None, None


@click.command()
@click.option("-m", "--model", help="Bundle folder, shipped model name, or 'fast' (the 3-layer student; "
                                    "default: the shipped default model).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of a table.")
def metrics(model, as_json):
    """List metric names (as used in summaries and gates), direction and meaning.

    \b
    direction: higher = higher is better, lower = lower is better, none = descriptive.
    A corpus value is the mean over dialogues of the per-dialogue value.
    r: the model's measured dialogue-level Pearson r with human judgements on held-out data
    (`--json` has its CI, corpus bias, n and data); below the floor a gate is mostly noise.
    """
    from ..reporting.metric_catalog import VALIDITY_FLOOR, catalog
    tasks, dims, name, validity = _tasks_and_dims(model)
    infos = catalog(tasks, dims, validity)
    if as_json:
        text = json.dumps({"model": name, "metrics": [i.to_dict() for i in infos]}, indent=2, ensure_ascii=False)
    else:
        width = max(len(i.name) for i in infos)
        lines = [f"{'metric':<{width}}  {'better':<6}  {'range':<5}  {'r':>5}  meaning"]
        for info in infos:
            r = (info.validity or {}).get("dialogue_r")
            shown = "  -  " if r is None else f"{r:5.2f}" + ("!" if not r >= VALIDITY_FLOOR else "")
            lines.append(f"{info.name:<{width}}  {info.direction:<6}  {info.range:<5}  {shown:>5}  {info.meaning}")
        lines.append(f"\n! = dialogue-level r below {VALIDITY_FLOOR}: a gate on it is mostly noise. "
                     f"Measured with: {validity.get('measured_with', '?')}" if validity else
                     "\nThis model ships no measured validity (r): gates on its metrics carry a warning.")
        text = "\n".join(lines)
    with stdout() as out:
        click.echo(text, file=out)
