"""Every `-o` path checked before any work: a run must never destroy its input, and must not score
for an hour to then fail on a folder that does not exist."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ..errors import UsageError
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
        if target.exists() and not os.access(target, os.W_OK):
            raise UsageError(f"-o {path}: cannot write in {target.parent} (read-only or no permission)")


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
