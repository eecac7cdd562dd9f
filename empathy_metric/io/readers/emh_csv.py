"""EMH/EPITOME CSV: one (seeker_post, response_post) pair per row, read as a two-turn dialogue."""
from __future__ import annotations

import csv
from typing import BinaryIO, Iterator

from ...dialogue import Dialogue, Turn
from ...errors import InputError
from .framing import open_binary
from .options import ReaderOptions
from .stats import ReadStats
from .streams import bounded_lines

EMH_COLUMNS = ("seeker_post", "response_post")


class _DecodedLines:
    """Lines of a binary stream as text for the csv module, which may pull several lines for one
    record (quoted newlines). Remembers where the current record started and which lines were not
    UTF-8 (decoded with replacement meanwhile), so that a bad line spoils only its own record."""

    def __init__(self, stream: BinaryIO, name: str, max_record_bytes: int):
        self.lines = enumerate(bounded_lines(stream, max_record_bytes, name), start=1)
        self.line, self.first, self.bad = 0, None, {}

    def __iter__(self):
        return self

    def __next__(self) -> str:
        self.line, raw = next(self.lines)
        if self.first is None and raw.strip():
            self.first = self.line
        try:
            return raw.decode("utf-8-sig" if self.line == 1 else "utf-8")
        except UnicodeDecodeError as exc:
            self.bad[self.line] = exc.start + 1          # 1-based, like JSON columns
            return raw.decode("utf-8", "replace")

    def next_record(self) -> None:
        self.first = None
        self.bad.clear()

    def undecodable(self, name: str) -> InputError | None:
        """The error for the first non-UTF-8 line of the record just read, if any."""
        bad = sorted(self.bad.items())
        self.bad.clear()
        if not bad:
            return None
        line, byte = bad[0]
        return InputError(f"not valid UTF-8 (byte {byte})", source=name, line=line)


def read_emh_csv(path: str, options: ReaderOptions, stats: ReadStats) -> Iterator[Dialogue]:
    """EMH/EPITOME pairs: seeker_post then response_post, a two-turn dialogue each row.
    The dialogue's FILE:LINE is the line where its row starts."""
    stream, name = open_binary(path)
    lines = _DecodedLines(stream, name, options.max_record_bytes)
    try:
        reader = csv.DictReader(lines)
        try:
            fieldnames = reader.fieldnames or []
        except csv.Error as exc:
            raise InputError(f"not valid CSV ({exc})", source=name, line=1) from None
        header_error = lines.undecodable(name)
        if header_error:
            raise header_error
        missing = [c for c in EMH_COLUMNS if c not in fieldnames]
        if missing:
            raise InputError(f"missing column(s) {', '.join(missing)} "
                             f"(EMH/EPITOME CSV needs seeker_post, response_post)", source=name, line=1)
        while True:
            lines.next_record()
            try:
                row = next(reader)
                error = lines.undecodable(name)
            except StopIteration:
                break
            except csv.Error as exc:
                error = InputError(f"not valid CSV ({exc})", source=name, line=lines.line)
            stats.records_read += 1
            line = lines.first or lines.line
            if error is None and any(row.get(c) is None for c in EMH_COLUMNS):
                error = InputError("row has too few columns", source=name, line=line)
            if error is not None:
                if options.on_error != "skip":
                    raise error
                stats.skip("malformed_record", str(error))
                continue
            yield _emh_dialogue(row, options, f"{name}:{line}")
    finally:
        if path != "-":
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
