"""The per-turn files of one scoring run, staged beside their targets, and the locks on its outputs.

`RunOutputs` takes a lock on every output (output_locks.py), prepares `--resume` and the partial
files (resume.py) and opens a TurnWriter per per-turn output (writers.py). `finish()` (the run
succeeded) renames the per-turn files over their targets; `abandon()` (it failed or was interrupted)
leaves every target as it was, the `.jsonl` records so far in its partial file for `--resume`.
"""
from __future__ import annotations

import contextlib

from ..errors import OutputError
from .output_locks import OutputLocks
from .resume import begin_run, finish_run, partial_path
from .writers import CsvFormat, JsonlFormat, TurnWriter, output_kind, scored_by


class RunOutputs:
    def __init__(self, outputs: list[str], scorer, options, inputs: list[str], resume: bool,
                 include_text: bool = False):
        self.locks = OutputLocks(outputs)
        self.writers: list[TurnWriter] = []
        self.resumed = None
        # signed with the model and the settings that decide the scores (io/turn_records.py)
        records = JsonlFormat(include_text, scored_by(scorer.bundle.signature(), scorer.settings()))
        try:
            self.resumed = begin_run(outputs, scorer, options, inputs, resume, records)
            for path in outputs:
                kind = output_kind(path)
                if kind == "jsonl":
                    self.writers.append(TurnWriter(path, records, staged_at=partial_path(path)))
                elif kind == "csv":
                    self.writers.append(TurnWriter(path, CsvFormat.of(scorer.tasks, scorer.perceived,
                                                                      include_text)))
        except BaseException:
            self.abandon()
            raise

    def known(self, scorer, counts):
        """`Scorer.iter_scores`' `known`: the scores of a dialogue kept by --resume, else None."""
        if self.resumed is None:
            return None
        resumed = self.resumed

        def known(dialogue, windows):
            return resumed.known_score(dialogue, windows, scorer.tasks, scorer.perceived, counts)
        return known

    def finish(self) -> None:
        """Every per-turn file becomes its target (its sidecar first: it then describes the output)."""
        if self.resumed is not None:
            self.resumed.check_all_used()
        for writer in self.writers:
            if isinstance(writer.format, JsonlFormat):
                finish_run(writer.path)
            writer.close()

    def abandon(self) -> None:
        """Keep what was written (an interrupted run stays resumable), and the error that ended the run."""
        for writer in self.writers:
            with contextlib.suppress(OutputError):
                writer.abandon()
        self.release()

    def release(self) -> None:
        self.locks.release()
