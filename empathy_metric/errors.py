"""Typed errors of the library. The CLI maps each class to one exit code; the library never exits."""
from __future__ import annotations


class EmpathyMetricError(Exception):
    """Base class of every error this package raises on purpose."""

    exit_code = 4


class UsageError(EmpathyMetricError):
    """A wrong option or argument combination (exit code 2)."""

    exit_code = 2


class InputError(EmpathyMetricError):
    """Bad input data. Names the file, the line (1-based) and the field when known (exit code 3)."""

    exit_code = 3

    def __init__(self, message: str, source: str | None = None, line: int | None = None,
                 field: str | None = None):
        self.source, self.line, self.field, self.reason = source, line, field, message
        where = ""
        if source is not None:
            where = f"{source}:{line}: " if line is not None else f"{source}: "
        super().__init__(where + message)

    def __reduce__(self):       # raised in a worker process, re-raised with its fields in the parent
        return type(self), (self.reason, self.source, self.line, self.field)


class ModelError(EmpathyMetricError):
    """A missing, altered or unusable model bundle, or a runtime failure (exit code 4)."""

    exit_code = 4


class MissingExtraError(ModelError):
    """An optional dependency is needed; the message names the pip extra that installs it."""

    def __init__(self, package: str, extra: str, purpose: str):
        super().__init__(f"{purpose} needs the '{package}' package: "
                         f"pip install 'empathy-metric[{extra}]'")


class OutputError(EmpathyMetricError):
    """An output (a file, stdout) cannot be written: full or read-only disk, closed stream (exit code 4)."""

    exit_code = 4


class AccountingError(EmpathyMetricError):
    """Turns read != scored + context + skipped: a bug, never bad input (exit code 4)."""

    exit_code = 4
