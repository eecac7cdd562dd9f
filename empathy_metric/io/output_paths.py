"""Every `-o` path checked before any work: a run must never destroy its input, and must not score
for an hour to then fail on a folder that does not exist."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ..errors import UsageError
from .writers import output_kind


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


def check_output_paths(inputs: list[str], outputs: list[str]) -> None:
    """A UsageError (exit 2) for the first `-o` path that is an unknown format, names an input or
    another output, names a folder, or lies in a folder that is missing or not writable."""
    for number, path in enumerate(outputs):
        output_kind(path)
        for source in inputs:
            if source != "-" and _same_file(path, source):
                raise UsageError(f"-o {path}: is the input {source}; writing it would destroy the input")
        for other in outputs[:number]:
            if _same_file(path, other):
                raise UsageError(f"-o {path}: names the same file as -o {other}")
        target = Path(path)
        if target.is_dir():
            raise UsageError(f"-o {path}: is a folder; give a file name")
        folder = target.parent
        if not folder.exists():
            raise UsageError(f"-o {path}: folder {folder} does not exist")
        if not folder.is_dir():
            raise UsageError(f"-o {path}: {folder} is not a folder")
        if not _writable_folder(folder) or (target.exists() and not os.access(target, os.W_OK)):
            raise UsageError(f"-o {path}: cannot write in {folder} (read-only or no permission)")
