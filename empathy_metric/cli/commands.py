"""Imports every subcommand module so that each registers itself on the `cli` group."""
from . import eval_cmd, export_cmd, score_cmd, train_cmd  # noqa: F401
from . import compare_cmd, metrics_cmd  # noqa: F401,E402
