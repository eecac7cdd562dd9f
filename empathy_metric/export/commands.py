"""`empathy-score export`: a trained checkpoint -> a validated ONNX bundle (extra `export`). Found by name by
`empathy-score` (cli/main.py), imported only when run."""
from __future__ import annotations

import json
from pathlib import Path

import click



def validation_windows(path: str | None, settings, limit: int):
    """Real windows from a dialogue log (or the shipped sample): to validate the export, or to calibrate
    int8 smoothing."""
    from ..dialogue import DEFAULT_AGENT_ROLES
    from ..io.readers import ReaderOptions, read_dialogues
    from ..pipeline.windows import windows_of
    source = path or str(Path(__file__).resolve().parents[2] / "examples" / "sample_logs.jsonl")
    roles = DEFAULT_AGENT_ROLES | {"sys"}
    dialogues = read_dialogues(source, ReaderOptions(agent_roles=roles))
    windows = []
    for dialogue in dialogues:
        windows += windows_of([dialogue], settings, roles)
        if len(windows) >= limit:
            break
    return windows[:limit]


@click.command()
@click.argument("checkpoint", type=click.Path(exists=True, file_okay=False))
@click.option("-o", "--out", "out_dir", required=True, help="Bundle folder to write.")
@click.option("--name", help="Bundle name (default: the output folder's name).")
@click.option("--precision", type=click.Choice(["int8", "fp32", "fp16"]), default="int8", show_default=True,
              help="The graph the bundle runs by default (encoder).")
@click.option("--also", "also", multiple=True, type=click.Choice(["int8", "fp32", "fp16"]),
              help="Extra graphs to ship beside it (e.g. --also fp16 for --device cuda).")
@click.option("--validate-on", help="Dialogue log whose windows validate the export against torch "
                                    "(default: examples/sample_logs.jsonl).")
@click.option("--validate-limit", type=int, default=512, show_default=True)
@click.option("--smooth-on", help="Dialogue log (training data, e.g. ESConv train.json) to calibrate "
                                  "SmoothQuant-style smoothing before int8; without it, plain dynamic int8.")
@click.option("--smooth-limit", type=int, default=256, show_default=True, help="Calibration windows.")
@click.option("--smooth-alpha", type=click.FloatRange(0, 1), default=0.8, show_default=True,
              help="Migration strength: share of each activation channel's range moved into the weights.")
@click.option("--fallback-margin", type=click.FloatRange(min=0), default=None,
              help="int8: also ship a float fallback that re-scores windows whose int8 top-2 logit margin "
                   "(smallest over the label heads) is under this, for labels equal to fp32's.")
@click.option("--card", type=click.Path(exists=True, dir_okay=False), help="Model card (README.md) to ship.")
@click.option("--quality", type=click.Path(exists=True, dir_okay=False),
              help="JSON with measured quality to record in the manifest (from `empathy-score eval`).")
def export(checkpoint, out_dir, name, precision, also, validate_on, validate_limit, smooth_on, smooth_limit,
           smooth_alpha, fallback_margin, card, quality):
    """Export CHECKPOINT (from `empathy-score train`) to an ONNX bundle, validated against torch: the
    differences are recorded in the manifest, and a graph beyond tolerance fails the export (exit 4)."""
    from ..pipeline.windows import WindowSettings
    config = json.loads((Path(checkpoint) / "empathy_config.json").read_text())
    settings = WindowSettings.from_dict(config["window"])
    windows = validation_windows(validate_on, settings, validate_limit)
    smooth_windows = validation_windows(smooth_on, settings, smooth_limit) if smooth_on else None
    card_text = Path(card).read_text(encoding="utf-8") if card else None
    quality_data = json.loads(Path(quality).read_text()) if quality else None
    name = name or Path(out_dir).name
    if config.get("arch") == "seq2seq":
        from .seq2seq import export_seq2seq_bundle
        manifest = export_seq2seq_bundle(checkpoint, out_dir, name, windows, quality=quality_data)
    else:
        from .bundle_builder import export_encoder_bundle
        manifest = export_encoder_bundle(checkpoint, out_dir, name, windows, precision=precision,
                                         quality=quality_data, card=card_text, extra_graphs=tuple(also),
                                         smooth_windows=smooth_windows, smooth_alpha=smooth_alpha,
                                         fallback_margin=fallback_margin)
    click.echo(json.dumps(manifest.get("export_validation", {}), indent=2))
