"""One run per output at a time: an advisory lock (`flock`) on `<output>.lock`.

Two runs writing one `-o` would leave one run's records and a torn line; the second run is refused
(UsageError, exit 2) naming the output. The lock file is removed when its run ends; a run that is
killed leaves it behind, harmless (the kernel drops the lock with the process). Removing it races
with a run that opened it just before: a lock taken on a file that is no longer the one at that path
is dropped and taken again on the new one.
"""
from __future__ import annotations

import contextlib
import os

try:
    import fcntl
except ImportError:            # Windows: no flock; outputs are still written through temporary files
    fcntl = None

from ..errors import UsageError

LOCK_SUFFIX = ".lock"


def lock_path(output: str) -> str:
    return output + LOCK_SUFFIX


class OutputLocks:
    """Locks on every output in `outputs`, taken at once (refused on the first held by another run)
    and released by `release()`."""

    def __init__(self, outputs: list[str]):
        self.held: list[tuple[str, object]] = []   # (lock file, its open file: garbage collection closes it)
        try:
            for output in outputs:
                self.held.append((lock_path(output), _take(output)))
        except BaseException:
            self.release()
            raise

    def release(self) -> None:
        while self.held:
            path, handle = self.held.pop()
            with contextlib.suppress(OSError):
                if _is_same(path, handle.fileno()):
                    os.unlink(path)
            handle.close()


@contextlib.contextmanager
def locked_outputs(outputs):
    """Hold the locks on `outputs` for the block (compare and analyze: their outputs are written whole
    at the end, but a second run must not race the first to the same files)."""
    locks = OutputLocks(list(outputs))
    try:
        yield locks
    finally:
        locks.release()


def _opener(path: str, flags: int) -> int:
    return os.open(path, flags | os.O_NOFOLLOW, 0o666)        # never a planted link


def _take(output: str):
    path = lock_path(output)
    for _ in range(10):
        try:
            handle = open(path, "ab", opener=_opener)
        except OSError as exc:
            raise UsageError(f"-o {output}: cannot create its lock file {path} ({exc.strerror or exc})") from None
        try:
            if fcntl is not None:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise UsageError(f"-o {output}: another empathy-score run is writing it now (it holds {path}); "
                             "wait for it to end, or write another file") from None
        if _is_same(path, handle.fileno()):
            return handle
        handle.close()                  # unlinked by the run that held it meanwhile: take the new one
    raise UsageError(f"-o {output}: its lock file {path} keeps changing; another run is using it")


def _is_same(path: str, fd: int) -> bool:
    try:
        at_path, held = os.lstat(path), os.fstat(fd)
    except OSError:
        return False
    return (at_path.st_dev, at_path.st_ino) == (held.st_dev, held.st_ino)
