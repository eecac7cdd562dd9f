"""Every `-o` path checked before any work: a run must never destroy its input, and must not score
for an hour to then fail on a folder that does not exist. The files a run creates beside an output
(its lock, the per-turn partial file and the resume sidecar) are checked like the output itself, and
so is the file on stdin."""
from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from ..errors import UsageError
from .output_locks import lock_path
from .resume import partial_path, sidecar_path
from .writers import SCORE_KINDS, SHARDS, output_kind


def _same_file(a: str, b: str) -> bool:
    """Same file by resolved path (`./x`, symlinks), or by inode where both exist (hardlinks)."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:            # one of them does not exist yet
        return False


def _writable_folder(folder: Path) -> bool:
    """Tried, not guessed from permission bits: root ignores them, a read-only mount does not."""
    try:
        with tempfile.TemporaryFile(dir=folder):
            return True
    except OSError:
        return False


def check_output_paths(inputs: list[str], outputs: list[str], allowed: tuple[str, ...] = SCORE_KINDS) -> None:
    """A UsageError (exit 2) for the first `-o` path that is an unknown format, names an input or
    another output, names a folder (unless SHARDS are `allowed`), or lies in a folder that is missing
    or not writable."""
    for number, path in enumerate(outputs):
        if output_kind(path, allowed) == SHARDS:
            _check_shard_folder(path)
            continue
        for source in inputs:
            if source != "-" and _same_file(path, source):
                raise UsageError(f"-o {path}: is the input {source}; writing it would destroy the input")
        for other in outputs[:number]:
            if _same_file(path, other):
                raise UsageError(f"-o {path}: names the same file as -o {other}")
        target = Path(path)
        _check_folder(path, target.parent)
        _check_regular(path, path, "")
        if target.exists() and not os.access(target, os.W_OK):
            raise UsageError(f"-o {path}: cannot write in {target.parent} (read-only or no permission)")
        for side, what in side_files(path, allowed):
            for source in inputs:
                if source != "-" and _same_file(side, source):
                    raise UsageError(f"-o {path}: its {what} {side} is the input {source}; writing it would "
                                     "destroy the input")
            _check_regular(path, side, f"its {what} ")
            _check_not_stdin(inputs, path, side, f"its {what} {side} ")
        _check_not_stdin(inputs, path, path, "")


def side_files(output: str, allowed: tuple[str, ...] = SCORE_KINDS) -> list[tuple[str, str]]:
    """(path, what it is) of every file a scoring run creates beside `output` (temporary files have
    random names, created exclusively: they cannot collide)."""
    sides = [(lock_path(output), "lock file")]           # every run locks its outputs (output_locks.py)
    if "jsonl" in allowed and output_kind(output, allowed) == "jsonl":
        sides += [(partial_path(output), "partial file"), (sidecar_path(output), "resume sidecar")]
    return sides


_KINDS = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder"))


def _check_regular(output: str, path: str, what: str) -> None:
    """A path a run will replace must be absent or a regular file: never written through a symlink
    (it would write wherever the link points), never a FIFO (the run would hang) or a device."""
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        return
    if stat.S_ISLNK(mode):
        dangling = "" if os.path.exists(path) else " that leads nowhere"
        raise UsageError(f"-o {output}: {what}{path} is a symbolic link{dangling}; give the real path "
                         "(outputs are replaced, never written through a link)")
    for test, name in _KINDS:
        if test(mode):
            raise UsageError(f"-o {output}: {what}{path} is {name}, not a regular file")


def _check_not_stdin(inputs: list[str], output: str, path: str, what: str) -> None:
    """`score - -o c.jsonl < c.jsonl` would empty the input it is reading."""
    if "-" not in inputs:
        return
    try:
        given, target = os.fstat(0), os.stat(path)
    except OSError:
        return
    if stat.S_ISREG(given.st_mode) and (given.st_dev, given.st_ino) == (target.st_dev, target.st_ino):
        raise UsageError(f"-o {output}: {what}is the file on stdin; writing it would destroy the input")


def _check_folder(path: str, folder: Path) -> None:
    if not folder.exists():
        raise UsageError(f"-o {path}: folder {folder} does not exist")
    if not folder.is_dir():
        raise UsageError(f"-o {path}: {folder} is not a folder")
    if not _writable_folder(folder):
        raise UsageError(f"-o {path}: cannot write in {folder} (read-only or no permission)")


def _check_shard_folder(path: str) -> None:
    """A new or empty folder in a writable one: shards of two runs must never mix. A URI (s3://...)
    is the cluster's to reach."""
    if "://" in path:
        return
    target = Path(path)
    if target.exists():
        if not target.is_dir():
            raise UsageError(f"-o {path}: {target} is a file, not a folder")
        if any(target.iterdir()):
            raise UsageError(f"-o {path}: the folder holds files already; give a new or empty folder "
                             "(shards of two runs would mix)")
        _check_folder(path, target)
    else:
        _check_folder(path, target.parent)


def check_shard_outputs(outputs: list[str], kinds: list[str]) -> None:
    """With a shard folder, per-turn records stay on the cluster: one folder per run, and no output
    that needs them here (per-turn files, the HTML report's transcripts)."""
    folders = [path for path, kind in zip(outputs, kinds) if kind == SHARDS]
    if len(folders) > 1:
        raise UsageError(f"-o {folders[1]}: one shard folder per run (already -o {folders[0]})")
    for path, kind in zip(outputs, kinds):
        if folders and kind in ("jsonl", "csv", "html"):
            what = "its transcripts need" if kind == "html" else "it would need"
            raise UsageError(f"-o {path}: not with the shard folder -o {folders[0]}: the per-turn records "
                             f"stay on the cluster, and {what} them here")
