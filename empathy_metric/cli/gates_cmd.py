"""`empathy-score gates suggest BASELINE_SUMMARY.json -o gates.toml`: a gates file from a baseline run."""
from __future__ import annotations

import json

import click

from .report import stdout


def read_gates_file(path: str | None):
    """`--gates FILE` -> reporting.gates_file.GatesFile (empty without a file); a usage error names it."""
    from ..reporting.gates_file import GatesFile, parse_gates
    if path is None:
        return GatesFile()
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise click.UsageError(f"--gates {path}: cannot read ({getattr(exc, 'strerror', None) or exc})")
    return parse_gates(text, path)


def gates_file_option(command):
    return click.option("--gates", "gates_file", metavar="FILE",
                        help="A gates file (TOML; `empathy-score gates suggest` writes one): its gates are "
                             "added to those given as options.")(command)


def _read_summary(path: str) -> dict:
    from ..errors import InputError
    try:
        with open(path, encoding="utf-8") as handle:
            summary = json.load(handle)
    except OSError as exc:
        raise InputError(f"cannot open: {exc.strerror}", source=path) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"not a JSON summary ({exc})", source=path) from None
    for key in ("signature", "corpus", "dialogues", "bootstrap"):
        if key not in summary:
            raise InputError(f"no '{key}': not a run summary of `empathy-score score -o summary.json`",
                             source=path, field=key)
    return summary


@click.group()
def gates():
    """Gates files: `gates suggest` derives one from a baseline run."""


@gates.command()
@click.argument("baseline_summary")
@click.option("-o", "--output", help="Write the gates file here (default: stdout).")
@click.option("-m", "--model", help="The bundle whose measured validity decides which metrics are gated "
                                    "(default: the model named in the summary).")
def suggest(baseline_summary, output, model):
    """Gates from BASELINE_SUMMARY.json (`score -o summary.json` of the released bot).

    \b
    Floors one CI width below the baseline's CI lower bound (ceilings one width above the upper
    bound), max-drop one CI width, a tail gate per perceived score (the share of dialogues under the
    baseline's 10th percentile may not exceed the baseline share's CI upper bound plus one width),
    only on metrics whose measured validity clears the model's floor (r >= 0.4) or that the model
    validated as detectors of a bad release (held-out ROC-AUC >= 0.8: relevance, understanding).
    """
    from ..bundle import load_bundle
    from ..errors import UsageError
    from ..io.output_locks import locked_outputs
    from ..io.output_paths import check_output_paths
    from ..io.output_writer import write_outputs
    from ..reporting.gates_file import gates_toml, suggest_gates
    from ..reporting.metric_catalog import DETECTOR_AUC_FLOOR, directions
    if output:      # like every -o: never the input, never through a link, one run at a time
        check_output_paths([baseline_summary], [output], allowed=("toml",))
    summary = _read_summary(baseline_summary)
    signature = summary["signature"]
    bundle = load_bundle(model or signature.get("model"), verify=False)
    if model is None and bundle.signature()["manifest_sha256"] != signature.get("manifest_sha256"):
        raise UsageError(f"{baseline_summary} was scored by {signature.get('model')} with manifest sha256 "
                         f"{str(signature.get('manifest_sha256'))[:12]}, not the installed one "
                         f"({bundle.signature()['manifest_sha256'][:12]}): give its bundle with -m")
    validity = bundle.manifest.get("validity") or {}
    tables = suggest_gates(summary, directions(bundle.tasks, bundle.perceived), validity)
    n = len(summary["dialogues"])
    header = [f"Gates suggested by `empathy-score gates suggest {baseline_summary}`",
              f"from {n} dialogues scored by {signature.get('model')} (manifest sha256 "
              f"{str(signature.get('manifest_sha256'))[:12]}), on metrics with validity r >= "
              f"{validity.get('floor', 0.4)} or validated detectors of bad releases (ROC-AUC >= {DETECTOR_AUC_FLOOR}).",
              "Floors: CI low - CI width; ceilings: CI high + width; max-drop: CI width; tails: the share under",
              "the baseline's 10th percentile <= its CI high + width. min-dialogues: half the baseline's."]
    text = gates_toml(tables, max(2, n // 2), header)
    if output:
        with locked_outputs([output]):
            write_outputs([(output, "toml")], {"toml": lambda: text})
    else:
        with stdout() as out:
            click.echo(text, file=out, nl=False)
