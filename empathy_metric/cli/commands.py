"""Imports every subcommand module so that each registers itself on the `cli` group."""
from . import score_cmd  # noqa: F401
