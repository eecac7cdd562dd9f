"""Imports every subcommand module so that each registers itself on the `cli` group."""
from ..export import commands as export_commands  # noqa: F401
from ..training import commands as train_commands, eval_cmd  # noqa: F401
from . import compare_cmd, metrics_cmd, score_cmd  # noqa: F401,E402
