"""`--resume`: continue an interrupted run from its per-turn JSONL records, with no duplicate and no
missing record, and without ever touching the previous complete output.

A run writes a per-turn `.jsonl` output into `<output>.partial` (a whole dialogue at a time, in input
order: writers.py), renamed over `<output>` only when the run succeeds; a failed, interrupted or
killed run leaves `<output>` as it was and its records so far in `<output>.partial`. At the start of
every run, `<output>.run.json` records what makes the output: model signature, settings, reader
options, and the inputs (resolved paths, so `in.jsonl` and `./in.jsonl` are one input) with the
sha256 of their bytes (`in_progress` while the partial file is the run's). On resume:
1. that sidecar must match the new run, else the resume is refused (UsageError): an input whose
   text changed under the same path is refused, never mixed with the old scores. Stdin and pipes
   cannot be read twice to be checked, so a run reading them cannot be resumed;
2. the records kept come from `<output>.partial` when there is one, else from `<output>` itself
   (copied into a new partial file); a cut last line is dropped, and so are all lines of the last
   dialogue: a kill may have cut it between two of its lines, and scoring it again is cheap;
3. every dialogue still there is read back instead of scored (`ResumedOutput.known_score`, which
   `Scorer.iter_scores` asks before scoring a dialogue), so the summary and any other output cover
   all dialogues; new records are appended. The kept records must be the first dialogues of the
   inputs, in order, each line exactly what a fresh run writes from its scores (ids, turn indexes,
   roles, gold labels, text): anything else means the file was altered, and the resume is refused.
Records are read back by byte offset, so memory holds one (offset, size) per finished dialogue.
"""
from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass, replace
from pathlib import Path

from ..bundle import sha256_of
from ..errors import InputError, UsageError
from ..pipeline.aggregation import DialogueScore, dialogue_score
from ..pipeline.decoding import UtteranceScore
from .atomic_files import open_exclusive, writing
from .turn_records import JsonlFormat, is_turn_record, read_utterance
from .writers import output_kind, write_json

SIDECAR_SUFFIX = ".run.json"
PARTIAL_SUFFIX = ".partial"
IN_PROGRESS = "in_progress"          # sidecar key: it describes the partial file, not the output
COPY_BYTES = 1 << 20


def sidecar_path(output: str) -> str:
    return output + SIDECAR_SUFFIX


def partial_path(output: str) -> str:
    return output + PARTIAL_SUFFIX


def input_sha256(path: str) -> str | None:
    """The sha256 of an input file's bytes; None for stdin and pipes, which cannot be read twice."""
    try:
        if path == "-" or not stat.S_ISREG(os.stat(path).st_mode):
            return None
        return sha256_of(Path(path))
    except OSError as exc:
        raise InputError(f"cannot open: {exc.strerror}", source=path) from None


def run_identity(scorer, options, inputs: list[str], include_text: bool = False) -> dict:
    """Everything that decides the per-turn records (batch sizes and threads do not: see
    tests/test_determinism.py). JSON-normalised so that it compares equal to a stored copy.
    `include_text` is named only when set, so that runs made before it existed still resume."""
    reader = {"format": options.format, "turns_key": options.turns_key, "role_key": options.role_key,
              "text_key": options.text_key, "id_key": options.id_key}
    identity = {"signature": scorer.bundle.signature(), "settings": scorer.settings(), "reader": reader,
                "inputs": [p if p == "-" else os.path.realpath(p) for p in inputs],
                "input_sha256": [input_sha256(p) for p in inputs]}
    if include_text:
        identity["include_text"] = True
    return json.loads(json.dumps(identity))


def begin_run(outputs: list[str], scorer, options, inputs: list[str], resume: bool,
              rendering: JsonlFormat) -> "ResumedOutput | None":
    """Check and prepare a resume (if asked), start the partial file of every .jsonl output (new and
    empty, or the kept records), then write its sidecar (the inputs are hashed only then: a run
    without a .jsonl output reads them once). `rendering`: the records as this run writes them."""
    turn_files = [p for p in outputs if output_kind(p) == "jsonl"]
    if not turn_files and not resume:
        return None
    identity = run_identity(scorer, options, inputs, rendering.include_text)
    resumed = None
    if resume:
        if len(turn_files) != 1:
            raise UsageError("--resume needs exactly one per-turn .jsonl output (-o turns.jsonl); "
                             f"got {len(turn_files)}")
        unhashed = ["stdin" if p == "-" else p for p, digest in zip(inputs, identity["input_sha256"])
                    if digest is None]
        if unhashed:
            raise UsageError(f"--resume needs input files: {', '.join(unhashed)} cannot be read twice to "
                             "check that it holds what the interrupted run scored")
        source = _resume_source(turn_files[0])
        if source is not None:
            _check_identity(turn_files[0], identity, source)
            resumed = ResumedOutput.prepare(turn_files[0], source, rendering)
    for path in turn_files:
        if resumed is None or resumed.path != path:
            open_exclusive(partial_path(path)).close()
        write_json(sidecar_path(path), {**identity, IN_PROGRESS: True})
    return resumed


def finish_run(output: str) -> None:
    """The run succeeded: its sidecar now describes `output` (the partial file is renamed after)."""
    side = sidecar_path(output)
    stored = json.loads(Path(side).read_text(encoding="utf-8"))
    stored.pop(IN_PROGRESS, None)
    write_json(side, stored)


def _resume_source(output: str) -> str | None:
    """Where the records to keep are: the partial file of an interrupted run, else the output."""
    for path in (partial_path(output), output):
        if Path(path).exists():
            return path
    return None


def _check_identity(output: str, identity: dict, source: str) -> None:
    side = sidecar_path(output)
    try:
        stored = json.loads(Path(side).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"cannot resume {output}: {side} is missing, so what made the output is "
                         "unknown; run again without --resume") from None
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot resume {output}: {side} is unreadable ({exc})") from None
    if not isinstance(stored, dict):
        raise UsageError(f"cannot resume {output}: {side} is not a run description")
    if stored.pop(IN_PROGRESS, False) and source == output:
        raise UsageError(f"cannot resume {output}: {side} describes a run whose partial file "
                         f"{partial_path(output)} is gone, not {output}; run again without --resume")
    differs = []
    for key in list(identity) + [k for k in stored if k not in identity]:
        value, old = identity.get(key), stored.get(key)
        if isinstance(value, dict) and isinstance(old, dict):
            differs += [f"{key}.{sub}" for sub in sorted(set(value) | set(old))
                        if value.get(sub) != old.get(sub)]
        elif value != old:
            differs.append(key + (" (an input's content changed)" if key == "input_sha256" else ""))
    if differs:
        raise UsageError(f"cannot resume {output}: it was made with another model, settings or input "
                         f"(differs: {', '.join(differs)}); run again without --resume")


def _bad_record(path: str, line: int, what: str) -> InputError:
    return InputError(f"{what}; this file is not intact output of empathy-score, so it cannot be "
                      "resumed (run again without --resume)", source=path, line=line)


def _altered(output: str, line: int, what: str) -> UsageError:
    return UsageError(f"cannot resume {output}: {partial_path(output)}:{line}: {what}; the inputs are the "
                      "ones it was made from (their sha256 match), so the file was altered: run again "
                      "without --resume")


@dataclass
class ResumedOutput:
    path: str                               # the output these records are for (DialogueScore.reused_from)
    data: str                               # the partial file that holds them
    spans: dict[str, tuple[int, int, int]]  # dialogue id -> (byte offset, byte size, first line)
    rendering: JsonlFormat                  # the records as this run writes them (a fresh run's bytes)
    used: int = 0                           # kept dialogues met in the inputs so far, in order

    @classmethod
    def prepare(cls, output: str, source: str, rendering: JsonlFormat) -> "ResumedOutput":
        """Scan `source`, keep its surely-complete dialogues in the partial file, index them."""
        spans: dict[str, tuple[int, int, int]] = {}
        current, start, first, offset = None, 0, 1, 0
        with open(source, "rb") as handle:
            for line, raw in enumerate(handle, start=1):
                if not raw.endswith(b"\n"):
                    break                                   # a cut last line
                dialogue_id = _record_id(raw, source, line)
                if dialogue_id != current:
                    if current is not None:
                        spans[current] = (start, offset - start, first)
                    if dialogue_id in spans:
                        raise _bad_record(source, line, f"dialogue '{dialogue_id}' appears twice")
                    current, start, first = dialogue_id, offset, line
                offset += len(raw)
        # The last dialogue may have been cut between two of its lines: score it again.
        keep = start if current is not None else 0
        data = partial_path(output)
        if source == data:
            with writing(data), open(data, "r+b") as handle:
                handle.truncate(keep)
        else:
            _copy_head(source, data, keep)
        return cls(path=output, data=data, spans=spans, rendering=rendering)

    def __contains__(self, dialogue_id: str) -> bool:
        return dialogue_id in self.spans

    def __len__(self) -> int:
        return len(self.spans)

    def _lines(self, dialogue_id: str) -> list[bytes]:
        offset, size, _ = self.spans[dialogue_id]
        with open(self.data, "rb") as handle:
            handle.seek(offset)
            return handle.read(size).splitlines(keepends=True)

    def known_score(self, dialogue, windows, tasks, perceived_dims, counts) -> DialogueScore | None:
        """The dialogue's scores rebuilt from its saved records, or None when the file has none. The
        kept dialogues must come first, in input order, each as a fresh run writes it."""
        order = list(self.spans)
        if self.used < len(order) and order[self.used] != dialogue.dialogue_id:
            kept = order[self.used]
            raise _altered(self.path, self.spans[kept][2],
                           f"holds dialogue '{kept}' where a fresh run writes dialogue '{dialogue.dialogue_id}'"
                           + (f" ({dialogue.source})" if dialogue.source else ""))
        if dialogue.dialogue_id not in self.spans:
            return None
        line = self.spans[dialogue.dialogue_id][2]
        lines = self._lines(dialogue.dialogue_id)
        records = [json.loads(raw) for raw in lines]
        saved = [r.get("turn_index") for r in records]
        expected = [w.turn_index for w in windows]
        if saved != expected:
            raise _altered(self.path, line, f"dialogue '{dialogue.dialogue_id}' has records for turns {saved}, "
                                            f"where a fresh run writes turns {expected}")
        utterances = [_utterance(r, w, tasks, perceived_dims, self.data, line + k)
                      for k, (r, w) in enumerate(zip(records, windows))]
        for k, (utterance, raw) in enumerate(zip(utterances, lines)):
            fresh = self.rendering.render(_one(utterance)).encode("utf-8")
            if fresh != raw:
                raise _altered(self.path, line + k, f"the record of dialogue '{dialogue.dialogue_id}' turn "
                                                    f"{utterance.turn_index} is not what a fresh run writes")
        self.used += 1
        counts.dialogues_resumed += 1
        counts.turns_resumed += len(utterances)
        return dialogue_score(dialogue.dialogue_id, utterances, tasks, perceived_dims, reused_from=self.path,
                              turns=dialogue.turns)

    def check_all_used(self) -> None:
        """After the inputs: a kept dialogue that no input holds was never the interrupted run's."""
        order = list(self.spans)
        if self.used < len(order):
            kept = order[self.used]
            raise _altered(self.path, self.spans[kept][2], f"holds dialogue '{kept}', which is in no input")


def _one(utterance: UtteranceScore):
    """A stand-in DialogueScore of one utterance, for JsonlFormat.render."""
    return type("One", (), {"utterances": [utterance]})()


def _copy_head(source: str, target: str, size: int) -> None:
    """The first `size` bytes of `source` as a new `target` (never through a link)."""
    with open(source, "rb") as src, open_exclusive(target) as dst, writing(target):
        left = size
        while left:
            block = src.read(min(COPY_BYTES, left))
            if not block:
                break
            dst.write(block)
            left -= len(block)


def _record_id(raw: bytes, path: str, line: int) -> str:
    try:
        record = json.loads(raw)
    except ValueError:
        raise _bad_record(path, line, "not valid JSON") from None
    if not is_turn_record(record) or not isinstance(record["dialogue_id"], str):
        raise _bad_record(path, line, "not a per-turn record")
    return record["dialogue_id"]


def _utterance(record: dict, window, tasks, dims, name: str, line: int):
    """The saved scores (each value checked), with everything that comes from the input taken from
    the input."""
    saved = read_utterance(record, tasks, dims, name, line, text=window.target)
    return replace(saved, dialogue_id=window.dialogue_id, turn_index=window.turn_index, role=window.role,
                   gold=window.gold)
