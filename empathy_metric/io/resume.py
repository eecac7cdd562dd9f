"""`--resume`: continue an interrupted run from its per-turn JSONL output, with no duplicate and no
missing record.

Per-turn output is written a whole dialogue at a time, in input order (writers.py). At the start of
every run, `<output>.run.json` records what makes the output: model signature, settings, reader
options, and the inputs (resolved paths, so `in.jsonl` and `./in.jsonl` are one input) with the
sha256 of their bytes. On resume:
1. that sidecar must match the new run, else the resume is refused (UsageError): an input whose
   text changed under the same path is refused, never mixed with the old scores. Stdin and pipes
   cannot be read twice to be checked, so a run reading them cannot be resumed;
2. a cut last line is dropped, and so are all lines of the last dialogue in the file: a kill may
   have cut it between two of its lines, and scoring it again is cheap;
3. every dialogue still in the file is read back instead of scored (`ResumedOutput.known_score`,
   which `Scorer.iter_scores` asks before scoring a dialogue), so the summary and any other output
   cover all dialogues; new records are appended.
Records are read back by byte offset, so memory holds one (offset, size) per finished dialogue.
"""
from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from ..bundle import sha256_of
from ..errors import InputError, UsageError
from ..pipeline.aggregation import DialogueScore, dialogue_score
from ..pipeline.decoding import UtteranceScore
from .writers import output_kind, write_json

SIDECAR_SUFFIX = ".run.json"
RECORD_KEYS = ("dialogue_id", "turn_index", "role", "labels", "probs", "perceived")


def sidecar_path(output: str) -> str:
    return output + SIDECAR_SUFFIX


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
              include_text: bool = False) -> "ResumedOutput | None":
    """Check and prepare a resume (if asked), then write the sidecar of every .jsonl output (the
    inputs are hashed only then: a run without a .jsonl output reads them once)."""
    turn_files = [p for p in outputs if output_kind(p) == "jsonl"]
    if not turn_files and not resume:
        return None
    identity = run_identity(scorer, options, inputs, include_text)
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
        if Path(turn_files[0]).exists():
            _check_identity(turn_files[0], identity)
            resumed = ResumedOutput.prepare(turn_files[0])
    for path in turn_files:
        write_json(sidecar_path(path), identity)
    return resumed


def _check_identity(output: str, identity: dict) -> None:
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


@dataclass
class ResumedOutput:
    path: str
    spans: dict[str, tuple[int, int]]     # dialogue id -> (byte offset, byte size) of its lines

    @classmethod
    def prepare(cls, path: str) -> "ResumedOutput":
        """Scan the file, cut it back to its last surely-complete dialogue, index what is left."""
        spans: dict[str, tuple[int, int]] = {}
        current, start, offset = None, 0, 0
        with open(path, "r+b") as handle:
            for line, raw in enumerate(handle, start=1):
                if not raw.endswith(b"\n"):
                    break                                   # a cut last line
                dialogue_id = _record_id(raw, path, line)
                if dialogue_id != current:
                    if current is not None:
                        spans[current] = (start, offset - start)
                    if dialogue_id in spans:
                        raise _bad_record(path, line, f"dialogue '{dialogue_id}' appears twice")
                    current, start = dialogue_id, offset
                offset += len(raw)
            # The last dialogue may have been cut between two of its lines: score it again.
            handle.truncate(start if current is not None else 0)
        return cls(path=path, spans=spans)

    def __contains__(self, dialogue_id: str) -> bool:
        return dialogue_id in self.spans

    def __len__(self) -> int:
        return len(self.spans)

    def _records(self, dialogue_id: str) -> list[dict]:
        offset, size = self.spans[dialogue_id]
        with open(self.path, "rb") as handle:
            handle.seek(offset)
            data = handle.read(size)
        return [json.loads(raw) for raw in data.splitlines()]

    def known_score(self, dialogue, windows, tasks, perceived_dims, counts) -> DialogueScore | None:
        """The dialogue's scores rebuilt from its saved records, or None when the file has none."""
        if dialogue.dialogue_id not in self.spans:
            return None
        records = self._records(dialogue.dialogue_id)
        saved = [r.get("turn_index") for r in records]
        expected = [w.turn_index for w in windows]
        if saved != expected:
            raise InputError(f"dialogue '{dialogue.dialogue_id}' has records for turns {saved}, but "
                             f"the input has agent turns {expected}: the input changed since the "
                             "interrupted run; run again without --resume", source=self.path)
        utterances = [_utterance(r, w.target) for r, w in zip(records, windows)]
        counts.dialogues_resumed += 1
        counts.turns_resumed += len(utterances)
        return dialogue_score(dialogue.dialogue_id, utterances, tasks, perceived_dims, reused_from=self.path,
                              turns=dialogue.turns)


def _record_id(raw: bytes, path: str, line: int) -> str:
    try:
        record = json.loads(raw)
    except ValueError:
        raise _bad_record(path, line, "not valid JSON") from None
    if not isinstance(record, dict) or any(k not in record for k in RECORD_KEYS) \
            or not isinstance(record["dialogue_id"], str):
        raise _bad_record(path, line, "not a per-turn record")
    return record["dialogue_id"]


def _utterance(record: dict, text: str) -> UtteranceScore:
    return UtteranceScore(dialogue_id=record["dialogue_id"], turn_index=record["turn_index"],
                          role=record["role"], labels=record["labels"], probs=record["probs"],
                          perceived=record["perceived"], truncated=bool(record.get("truncated")),
                          gold=record.get("gold", {}), text=text,
                          repeats=record["repeats"] if isinstance(record.get("repeats"), bool) else None)
