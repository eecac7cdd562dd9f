"""Files that replace their target only when everything written to them is complete.

A `PendingFile` is a temporary file created exclusively (O_CREAT|O_EXCL, which never follows a
symlink) under a random name in the target's own folder, so that `os.replace` over the target is
one atomic rename on one file system. `commit()` fsyncs it and renames it over the target;
`discard()` removes it. A failed or interrupted run therefore leaves the previous target as it was,
and no planted `OUT.tmp` (a symlink, a folder, a file of the user's) is ever opened.
"""
from __future__ import annotations

import contextlib
import errno
import os
import tempfile

from ..errors import OutputError


@contextlib.contextmanager
def writing(path: str):
    """OSError while writing `path` -> OutputError naming it."""
    try:
        yield
    except OSError as exc:
        raise OutputError(f"{path}: cannot write ({exc.strerror or exc})") from None


def fsync_handle(handle) -> None:
    try:
        os.fsync(handle.fileno())
    except OSError as exc:
        if exc.errno != errno.EINVAL:        # a pipe or a device: nothing to make durable
            raise


def fsync_folder(folder: str) -> None:
    """Make a rename in `folder` durable (where the file system allows opening a folder)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder or ".", os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class PendingFile:
    """A temporary file beside `target`, opened for writing in binary (`handle`), that becomes
    `target` on `commit()` and disappears on `discard()`."""

    def __init__(self, target: str):
        self.target = target
        folder, name = os.path.split(target)
        with writing(target):
            fd, self.path = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder or ".")
        self.handle = os.fdopen(fd, "wb")
        with contextlib.suppress(OSError):       # mkstemp makes it 0600: give it the mode a plain open would
            os.chmod(self.path, _mode_for(target))

    def commit(self) -> None:
        with writing(self.target):
            try:
                self.handle.flush()
                fsync_handle(self.handle)
                self.handle.close()
                os.replace(self.path, self.target)
            except BaseException:
                self.discard()
                raise
        fsync_folder(os.path.dirname(self.target))

    def discard(self) -> None:
        with contextlib.suppress(OSError):
            self.handle.close()
        with contextlib.suppress(OSError):
            os.unlink(self.path)


def _mode_for(target: str) -> int:
    """The target's own permissions when it exists, else those a new file gets under the umask."""
    try:
        return os.stat(target).st_mode & 0o7777
    except OSError:
        mask = os.umask(0o022)
        os.umask(mask)
        return 0o666 & ~mask


def write_atomically(path: str, write) -> None:
    """`write(binary handle)` into a PendingFile, then renamed over `path`: a reader never sees half a
    file, and a failure leaves neither the temporary file nor a changed `path`."""
    pending = PendingFile(path)
    try:
        with writing(path):
            write(pending.handle)
    except BaseException:
        pending.discard()
        raise
    pending.commit()


def open_exclusive(path: str, append: bool = False):
    """A binary handle on `path`, never through a symlink: a new file (created exclusively, after an
    earlier one of ours is unlinked) or, with `append`, the existing regular file."""
    flags = os.O_WRONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    with writing(path):
        if append:
            fd = os.open(path, flags | os.O_APPEND)
        else:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            fd = os.open(path, flags | os.O_CREAT | os.O_EXCL, 0o666)
        return os.fdopen(fd, "ab" if append else "wb")
