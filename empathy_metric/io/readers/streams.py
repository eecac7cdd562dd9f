"""Input bytes as the readers see them: gzip read as the plain file, other binary files named for what
they look like, and lines never longer than the record size limit.

A line is read with `readline(limit + 1)`, so a record without an end (`/dev/zero`, a 200 MB line)
costs at most the limit in memory before it is refused as `FILE:LINE: record larger than ...`.
"""
from __future__ import annotations

import contextlib
import gzip
import io
import sys
import zlib
from typing import BinaryIO, Iterator

from ...errors import InputError

DEFAULT_MAX_RECORD_BYTES = 64 * 1024 * 1024      # 64 MiB: ESConv's whole-file JSON array is ~10 MB
GZIP_MAGIC = b"\x1f\x8b"
# Leading bytes of files people pass by mistake -> what they are, and what to do.
BINARY_MAGIC = (
    (b"PK\x03\x04", "a zip archive", "unzip it first"),
    (b"BZh", "a bzip2 archive", "decompress it first"),
    (b"\xfd7zXZ\x00", "an xz archive", "decompress it first"),
    (b"\x28\xb5\x2f\xfd", "a zstd archive", "decompress it first"),
    (b"PAR1", "a Parquet file", "write its rows as JSONL first"),
    (b"SQLite format 3\x00", "an SQLite database", "export its dialogues as JSONL first"),
    (b"%PDF", "a PDF document", "give the dialogue log itself"),
    (b"\x89PNG", "a PNG image", "give the dialogue log itself"),
    (b"\xff\xd8\xff", "a JPEG image", "give the dialogue log itself"),
    (b"\x7fELF", "an executable (ELF)", "give the dialogue log itself"),
    (b"\xff\xfe", "UTF-16 text (it starts with a UTF-16 byte order mark)", "write it as UTF-8"),
    (b"\xfe\xff", "UTF-16 text (it starts with a UTF-16 byte order mark)", "write it as UTF-8"),
)


def open_input(path: str) -> tuple[BinaryIO, str]:
    """(binary stream, name for messages) of an input file or '-' (stdin); gzip is decompressed as it
    is read (detected by its magic bytes, whatever the file's name); another binary file is an
    InputError saying what it looks like."""
    if path == "-":
        if sys.stdin is None:          # started with stdin closed (`<&-`)
            raise InputError("cannot read: stdin is closed", source="<stdin>")
        stream, name = sys.stdin.buffer, "<stdin>"
    else:
        try:
            stream, name = open(path, "rb"), path
        except OSError as exc:
            raise InputError(f"cannot open: {exc.strerror}", source=path) from exc
    if not hasattr(stream, "peek") and hasattr(stream, "readinto"):
        stream = io.BufferedReader(stream)            # e.g. a BytesIO standing in for stdin: make it peekable
    try:
        head = _peek(stream)
        if head.startswith(GZIP_MAGIC):
            return _Gunzipped(name, stream), name
        for magic, what, advice in BINARY_MAGIC:
            if head.startswith(magic):
                raise InputError(f"this looks like {what}, not a dialogue log in JSONL, JSON or CSV (plain or "
                                 f"gzip-compressed): {advice}", source=name, line=1)
    except BaseException:
        if path != "-":
            stream.close()
        raise
    return stream, name


class _Gunzipped(gzip.GzipFile):
    """A gzip stream whose damage (a cut or corrupt file) is an InputError naming the file."""

    def __init__(self, name: str, stream: BinaryIO):
        super().__init__(fileobj=stream, mode="rb")
        self.input_name, self.raw_stream = name, stream

    @contextlib.contextmanager
    def _errors(self):
        try:
            yield
        except (OSError, EOFError, zlib.error) as exc:
            raise InputError(f"not a valid gzip file ({exc})", source=self.input_name) from None

    def read(self, size=-1):
        with self._errors():
            return super().read(size)

    def readline(self, size=-1):
        with self._errors():
            return super().readline(size)

    def close(self):
        super().close()
        if self.input_name != "<stdin>":
            self.raw_stream.close()


def _peek(stream: BinaryIO) -> bytes:
    """The first bytes, left in the stream (a pipe cannot seek back)."""
    try:
        return stream.peek(16)[:16]
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return b""


def is_gzip(path: str) -> bool:
    try:
        with open(path, "rb") as handle:
            return handle.read(2) == GZIP_MAGIC
    except OSError:
        return False


def too_large(name: str, line: int, limit: int) -> InputError:
    return InputError(f"record larger than {limit:,} bytes (--max-record-bytes raises the limit)",
                      source=name, line=line)


def bounded_lines(stream: BinaryIO, limit: int, name: str, first_line: int = 1) -> Iterator[bytes]:
    """The stream's lines (with their line ends), each at most `limit` bytes besides its end; a longer
    one is an InputError naming its line, raised before more than `limit` + 1 bytes of it are read."""
    line = first_line
    while True:
        raw = stream.readline(limit + 2)      # room for the content, "\r\n" or "\n"
        if not raw:
            return
        if len(raw.rstrip(b"\r\n")) > limit or (len(raw) == limit + 2 and not raw.endswith(b"\n")):
            raise too_large(name, line, limit)
        yield raw
        line += 1


def read_bounded(stream: BinaryIO, limit: int, name: str, line: int = 1) -> bytes:
    """The rest of the stream (a whole-file JSON array), at most `limit` bytes."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise InputError(f"a whole-file JSON array larger than {limit:,} bytes (--max-record-bytes raises "
                         "the limit; JSONL, one record per line, has no such limit)", source=name, line=line)
    return data
