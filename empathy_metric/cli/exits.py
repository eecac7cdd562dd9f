"""Library errors -> one line on stderr and the documented exit code."""
from __future__ import annotations

import functools
import sys

import click

from ..errors import EmpathyMetricError

EXIT_OK, EXIT_GATE_FAILED, EXIT_USAGE, EXIT_BAD_INPUT, EXIT_MODEL = 0, 1, 2, 3, 4


def reports_errors(command):
    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except EmpathyMetricError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)
    return wrapper
