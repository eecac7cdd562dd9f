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
        return bundle.tasks, bundle.perceived, bundle.name, bundle.manifest
    from ..schemas import DEFAULT_TASKS, PERCEIVED_DIMENSIONS
    click.echo(f"note: no shipped model '{DEFAULT_MODEL}' found; listing the default schemas' metrics",
               err=True)
    return list(DEFAULT_TASKS), list(PERCEIVED_DIMENSIONS), None, {}


def _table(infos, validity: dict | None):
    """Grouped names (never cut), direction, range, r, and the meaning wrapped to the terminal, with
    the reference points under a headline metric's meaning."""
    from rich.text import Text

    from ..reporting.headline import scale_points
    from ..reporting.metric_catalog import VALIDITY_FLOOR, directions_of
    from .report import grouped_table
    table = grouped_table(None)
    table.add_column("metric", no_wrap=True)
    table.add_column("better", no_wrap=True)
    table.add_column("range", no_wrap=True)
    table.add_column("r", justify="right", no_wrap=True)
    table.add_column("meaning", overflow="fold", min_width=24)
    by_name = {i.name: i for i in infos}

    def cells(name: str) -> list:
        info = by_name[name]
        r = (info.validity or {}).get("dialogue_r")
        shown = "-" if r is None else f"{r:.2f}" + ("!" if not r >= VALIDITY_FLOOR else "")
        meaning = info.meaning
        if info.references:           # one point a line: a name is never split from its value
            meaning += "\nreference points:\n" + "\n".join(
                f"{name} {value}" for name, value, _ in scale_points(None, list(info.references)))
        return [info.direction, info.range, shown, Text(meaning)]     # Text: no markup read in it
    return table, cells, directions_of(infos)


@click.command()
@click.option("-m", "--model", help="Bundle folder, shipped model name, or 'fast' (the 3-layer student; "
                                    "default: the shipped default model).")
@click.option("--json", "as_json", is_flag=True,
              help='Print a JSON object instead of a table: {"model": name, "metrics": [one object per '
                   'metric: name, direction, range, meaning, validity (r with its CI, corpus bias, n, data; '
                   'null if not measured), references (a list of {"name", "value", "ci", "source"}: what the '
                   'model scores on named reference releases; empty if none)]}, in the model\'s order.')
def metrics(model, as_json):
    """List metric names (as used in summaries and gates), direction, meaning and reference points,
    headline metrics first.

    \b
    direction: higher = higher is better, lower = lower is better, none = descriptive.
    A corpus value is the mean over dialogues of the per-dialogue value.
    r: the model's measured dialogue-level Pearson r with human judgements on held-out data
    (`--json` has its CI, corpus bias, n and data); below the floor a gate is mostly noise.
    references: what the model scores on named reference releases (`--json` has their CIs and
    sources), to read a run's value on a scale.
    """
    from ..reporting.headline import ordered_metrics, references_of
    from ..reporting.metric_catalog import VALIDITY_FLOOR, catalog
    from .report import add_grouped_rows, print_table
    tasks, dims, name, manifest = _tasks_and_dims(model)
    validity = manifest.get("validity")
    infos = catalog(tasks, dims, validity, references_of(manifest))
    if as_json:
        text = json.dumps({"model": name, "metrics": [i.to_dict() for i in infos]}, indent=2, ensure_ascii=False)
        with stdout() as out:
            click.echo(text, file=out)
        return
    table, cells, directions = _table(infos, validity)
    add_grouped_rows(table, ordered_metrics([i.name for i in infos], directions), cells)
    note = (f"! = dialogue-level r below {VALIDITY_FLOOR}: a gate on it is mostly noise. "
            f"Measured with: {validity.get('measured_with', '?')}" if isinstance(validity, dict) else
            "This model ships no measured validity (r): gates on its metrics carry a warning.")
    print_table(table, "", note)
