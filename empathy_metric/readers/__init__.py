"""Readers: stream dialogues one at a time from JSONL, JSON arrays, EMH/EPITOME CSV, or stdin.

Every record either becomes a Dialogue, raises an InputError naming FILE:LINE and the field, or,
with `on_error="skip"`, is counted in `ReadStats.records_skipped` and left out.
"""
from __future__ import annotations

import csv
import io
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Iterator

from ..dialogue import Dialogue, Turn
from ..errors import InputError
from .options import FORMATS, ReaderOptions
from .records import record_to_dialogue

__all__ = ["FORMATS", "ReaderOptions", "ReadStats", "read_dialogues", "iter_records"]

EMH_COLUMNS = ("seeker_post", "response_post")


@dataclass
class ReadStats:
    records_read: int = 0
    records_skipped: dict[str, int] = field(default_factory=dict)   # reason -> count
    errors: list[str] = field(default_factory=list)                 # first messages of skipped records

    def skip(self, reason: str, message: str) -> None:
        self.records_skipped[reason] = self.records_skipped.get(reason, 0) + 1
        if len(self.errors) < 20:
            self.errors.append(message)


def _open_binary(path: str) -> tuple[BinaryIO, str]:
    if path == "-":
        return sys.stdin.buffer, "<stdin>"
    try:
        return open(path, "rb"), path
    except OSError as exc:
        raise InputError(f"cannot open: {exc.strerror}", source=path) from exc


def _decode(raw: bytes, name: str, line: int) -> str:
    try:
        return raw.decode("utf-8-sig" if line == 1 else "utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"not valid UTF-8 (byte {exc.start})", source=name, line=line) from None


def iter_records(path: str) -> Iterator[tuple[str, int, object | InputError]]:
    """Yield (source name, line, parsed JSON or the InputError it raised) for a JSONL/JSON file."""
    stream, name = _open_binary(path)
    try:
        first = stream.peek(64)[:64] if hasattr(stream, "peek") else b""
        if first.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"["):
            yield from _json_array(stream, name)
            return
        for line, raw in enumerate(stream, start=1):
            if not raw.strip():
                continue
            try:
                yield name, line, json.loads(_decode(raw, name, line))
            except InputError as exc:
                yield name, line, exc
            except (json.JSONDecodeError, RecursionError) as exc:
                reason = getattr(exc, "msg", "nesting too deep")
                col = f" at column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
                yield name, line, InputError(f"not valid JSON ({reason}{col})", source=name, line=line)
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()


def _json_array(stream: BinaryIO, name: str):
    """A whole-file JSON array (e.g. the original ESConv.json). 'Line' is the 1-based record number."""
    try:
        data = json.loads(_decode(stream.read(), name, 1))
    except (json.JSONDecodeError, RecursionError) as exc:
        raise InputError(f"not valid JSON ({getattr(exc, 'msg', 'nesting too deep')})",
                         source=name) from None
    for number, record in enumerate(data, start=1):
        yield name, number, record


def read_dialogues(path: str, options: ReaderOptions, stats: ReadStats | None = None
                   ) -> Iterator[Dialogue]:
    stats = stats if stats is not None else ReadStats()
    if options.format not in FORMATS:
        raise InputError(f"unknown format '{options.format}' (choose from {', '.join(FORMATS)})")
    if options.format == "emh" or (options.format == "auto" and str(path).lower().endswith(".csv")):
        yield from _read_emh_csv(path, options, stats)
        return
    for name, line, record in iter_records(path):
        stats.records_read += 1
        try:
            if isinstance(record, InputError):
                raise record
            yield record_to_dialogue(record, options, f"{name}:{line}")
        except InputError as exc:
            if exc.source is None:
                exc = InputError(exc.reason, source=name, line=line, field=exc.field)
            if options.on_error != "skip":
                raise exc from None
            stats.skip("malformed_record", str(exc))


def _read_emh_csv(path: str, options: ReaderOptions, stats: ReadStats) -> Iterator[Dialogue]:
    """EMH/EPITOME pairs: seeker_post then response_post, a two-turn dialogue each row."""
    stream, name = _open_binary(path)
    try:
        text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
        reader = csv.DictReader(text)
        missing = [c for c in EMH_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise InputError(f"missing column(s) {', '.join(missing)} "
                             f"(EMH/EPITOME CSV needs seeker_post, response_post)", source=name, line=1)
        while True:
            try:
                row = next(reader)
            except StopIteration:
                break
            except (csv.Error, UnicodeDecodeError) as exc:
                error = InputError(f"not valid CSV ({exc})", source=name, line=reader.line_num)
                if options.on_error != "skip":
                    raise error from None
                stats.skip("malformed_record", str(error))
                continue
            stats.records_read += 1
            line = reader.line_num
            if any(row.get(c) is None for c in EMH_COLUMNS):
                error = InputError("row has too few columns", source=name, line=line)
                if options.on_error != "skip":
                    raise error
                stats.skip("malformed_record", str(error))
                continue
            yield _emh_dialogue(row, options, f"{name}:{line}")
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()


def _emh_dialogue(row: dict, options: ReaderOptions, source: str) -> Dialogue:
    if options.id_key and row.get(options.id_key):
        dialogue_id = row[options.id_key]
    elif row.get("sp_id") and row.get("rp_id"):
        dialogue_id = f"{row['sp_id']}_{row['rp_id']}"
    else:
        dialogue_id = source
    gold = {k: row[k] for k in ("level", "rationales") if row.get(k) not in (None, "")}
    turns, skipped = [], {}
    for index, (role, key) in enumerate((("seeker", "seeker_post"), ("supporter", "response_post"))):
        text = (row.get(key) or "").strip()
        if text:
            turns.append(Turn(role=role, text=text, index=index, gold=gold if role == "supporter" else {}))
        else:
            skipped["empty_text"] = skipped.get("empty_text", 0) + 1
    return Dialogue(dialogue_id=dialogue_id, turns=turns, source=source, skipped=skipped, turns_read=2)


def read_path_list(paths: list[str], options: ReaderOptions, stats: ReadStats) -> Iterator[Dialogue]:
    for path in paths:
        if path != "-" and Path(path).is_dir():
            raise InputError("is a folder, expected a file (JSONL, JSON or CSV)", source=path)
        yield from read_dialogues(path, options, stats)
