"""The one writer of every `-o` output that a run writes whole at its end (summary .json, .md, .html,
gate verdicts .junit.xml, for score, compare and analyze): each command hands it the (path, kind)
of its outputs and, per kind, what builds that kind's content; per-turn files (.jsonl, .csv, shards)
are written as the run goes (writers.TurnWriter, staged the same way) and are skipped here. How a
file reaches the disk is decided here, for every output at once: a temporary file created
exclusively beside the target (never through a planted link), renamed over it only when complete
(atomic_files.py), so that a failed run leaves the previous output as it was."""
from __future__ import annotations

from typing import Callable, Iterable, Mapping

from .atomic_files import write_atomically
from .writers import json_text  # noqa: F401 (what a JSON output holds)

# kind -> what builds its content (called only when an output of that kind is asked for)
Contents = Mapping[str, Callable[[], "str | bytes"]]


def write_outputs(outputs: Iterable[tuple[str, str]], contents: Contents) -> None:
    """Write each (path, kind) of `outputs` whose kind has a content in `contents`, in order."""
    for path, kind in outputs:
        build = contents.get(kind)
        if build is None:
            continue                    # written as the run went (per-turn files, shards)
        data = build()
        data = data.encode("utf-8") if isinstance(data, str) else data
        write_atomically(path, lambda handle: handle.write(data))
