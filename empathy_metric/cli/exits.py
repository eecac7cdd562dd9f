"""The one place where a failure becomes one line on stderr and its exit code.

0 ok · 1 a gate failed · 2 usage (options, paths, a missing extra) · 3 bad input · 4 model, runtime or
output I/O · 130 interrupted (Ctrl-C), 143 / 129 (SIGTERM / SIGHUP). The library raises typed errors (errors.py) and never exits;
click's own usage errors keep their message. No traceback reaches the user: anything unforeseen is
one line, exit 4, and `--debug` shows its traceback. A reader that goes away (`| head`) ends the run
quietly.
"""
from __future__ import annotations

import contextlib
import os
import signal
import sys
import traceback

import click

from ..errors import EmpathyMetricError, OutputError

EXIT_OK, EXIT_GATE_FAILED, EXIT_USAGE, EXIT_BAD_INPUT, EXIT_MODEL = 0, 1, 2, 3, 4
EXIT_INTERRUPTED = 130      # 128 + SIGINT, as shells report it
# SIGTERM (what `timeout`, CI cancellation and `kill` send) and SIGHUP (a closed terminal) end a run as
# Ctrl-C does: one line, 128 + the signal's number, per-turn output kept for --resume.
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


class Stopped(KeyboardInterrupt):
    """A stop signal, raised in the main thread where the run is, so that it unwinds as Ctrl-C does."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


class Interrupted(Exception):
    """Ctrl-C or a stop signal, carried past click (LazyGroup.invoke raises it), which would answer a
    KeyboardInterrupt with a blank line and exit 1 or 130 whatever the signal."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _raise_stopped(signum, frame):
    raise Stopped(signum)


@contextlib.contextmanager
def stop_signals_raise():
    """While a command runs, SIGTERM and SIGHUP raise `Stopped`; the handlers before are put back after
    (a command run in-process, by click's test runner). Only the main thread may set handlers:
    elsewhere, nothing changes."""
    before = {}
    for signum in STOP_SIGNALS:
        with contextlib.suppress(ValueError, OSError):
            before[signum] = signal.signal(signum, _raise_stopped)
    try:
        yield
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)


class ReaderGone(Exception):
    """A BrokenPipeError out of a command, carried past click, which would otherwise answer it with
    exit 1, this tool's "gate failed" (LazyGroup.invoke raises it)."""


def _settle_stdout() -> None:
    """Flush stdout; where that fails, point it at /dev/null so that Python's last flush at exit
    cannot fail (and print) again."""
    try:
        if sys.stdout is not None:
            sys.stdout.flush()
        return
    except OSError:
        pass
    with contextlib.suppress(Exception):      # not a real file (click's test runner): nothing to do
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def _flush_stdout() -> None:
    """Write out what is buffered for stdout now, inside the mapping: a full disk under stdout must
    be an error with its exit code, not a message from the interpreter's shutdown."""
    if sys.stdout is None:
        return
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise OutputError(f"cannot write to stdout ({exc.strerror or exc})") from None


def _fail(message: str, code: int, debug: bool):
    if debug:
        traceback.print_exc()
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _os_error_text(exc: OSError) -> str:
    where = f"{exc.filename}: " if exc.filename else ""
    return f"{where}{exc.strerror or exc}"


@contextlib.contextmanager
def exit_codes(debug: bool = False):
    """Run a command; turn whatever it raises into its message and exit code (SystemExit passes)."""
    try:
        yield
        _flush_stdout()
    except (click.Abort, KeyboardInterrupt, Interrupted) as exc:
        if debug:
            traceback.print_exc()
        signum = getattr(exc, "signum", signal.SIGINT)
        if signum != signal.SIGINT:
            click.echo(f"interrupted ({signal.Signals(signum).name})", err=True)
            sys.exit(128 + signum)
        click.echo("interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except (BrokenPipeError, ReaderGone):
        _settle_stdout()
        sys.exit(EXIT_MODEL)
    except EmpathyMetricError as exc:
        _settle_stdout()
        _fail(str(exc), exc.exit_code, debug)
    except ModuleNotFoundError as exc:
        _fail(f"this needs the '{exc.name}' package, which is not installed", EXIT_USAGE, debug)
    except OSError as exc:
        _settle_stdout()
        _fail(_os_error_text(exc), EXIT_MODEL, debug)
    except Exception as exc:       # a bug: still one line and a documented code
        _fail(f"unexpected {type(exc).__name__}: {' '.join(str(exc).split())} "
              "(run again with --debug for the traceback)", EXIT_MODEL, debug)


def pop_debug(args: list[str]) -> tuple[bool, list[str]]:
    """`--debug` anywhere before a `--`: (whether it was given, the arguments without it)."""
    end = args.index("--") if "--" in args else len(args)
    kept = [a for a in args[:end] if a != "--debug"] + args[end:]
    return len(kept) != len(args), kept
