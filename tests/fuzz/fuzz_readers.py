"""Coverage-guided fuzzing of the readers with atheris (not part of pytest).

    pip install atheris
    python tests/fuzz/fuzz_readers.py -max_total_time=60 [corpus_dir]

Each input is written to a file and read as JSONL (raise and skip modes), as a whole-file JSON array
and as an EMH/EPITOME CSV. The only exception allowed out of a reader is the project's InputError;
anything else is a finding and atheris stops with the input that caused it.
"""
import os
import sys
import tempfile

import atheris

with atheris.instrument_imports():
    from empathy_metric.errors import InputError
    from empathy_metric.io.readers import ReaderOptions, ReadStats, read_dialogues

FOLDER = tempfile.mkdtemp(prefix="fuzz-readers-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
PATHS = {suffix: os.path.join(FOLDER, "input" + suffix) for suffix in (".jsonl", ".csv")}
CSV_HEADER = b"sp_id,rp_id,seeker_post,response_post,level\n"
OPTIONS = [ReaderOptions(on_error="raise"), ReaderOptions(on_error="skip"),
           ReaderOptions(format="openai", on_error="skip"), ReaderOptions(format="generic", on_error="skip")]


def read(path: str, options: ReaderOptions) -> None:
    stats = ReadStats()
    try:
        for dialogue in read_dialogues(path, options, stats):
            for turn in dialogue.turns:
                turn.text.encode("utf-8")           # what is passed on must be encodable
                turn.role.encode("utf-8")
            dialogue.dialogue_id.encode("utf-8")
    except InputError:
        pass


def test_one_input(data: bytes) -> None:
    with open(PATHS[".jsonl"], "wb") as handle:
        handle.write(data)
    for options in OPTIONS:
        read(PATHS[".jsonl"], options)
    with open(PATHS[".csv"], "wb") as handle:
        handle.write(CSV_HEADER + data)
    read(PATHS[".csv"], OPTIONS[0])
    read(PATHS[".csv"], OPTIONS[1])


if __name__ == "__main__":
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
