"""`score --engine ray -o DIR/`: the per-turn records written as shards by Ray Data's file writers,
while the chunks' per-dialogue metrics go back to the driver for the summary.

Ray Data writes a Dataset or hands it to the driver, not both; scoring it twice is out of the
question. So the actors' blocks carry, beside the records, each chunk's scored dialogues (on its
first record), and the sink returns those from its write tasks: Ray gives every task's return to
`on_write_complete` on the driver. The driver thus holds per-dialogue metrics, never the records.

JSONL shards hold the very lines of `-o turns.jsonl` (Ray's `write_json` goes through pandas, which
would write a missing `gold` as null and escape '/' and non-ASCII text). Parquet shards have
one schema from the model (labels and perceived scores as structs); `gold`, whose shape is the
input's, is its JSON text there (null when the turn had none).
"""
from __future__ import annotations

import json
import pickle
from typing import Iterable

import pyarrow as pa
import pyarrow.parquet as pq
from ray.data.block import BlockAccessor
from ray.data.datasource import BlockBasedFileDatasink

from ..io.writers import ShardFolder, dumps_record

# Rows per shard at least (the blocks of several chunks go to one file): one chunk's ~512 turns per
# file would make thousands of small files per million turns, which Parquet readers handle badly.
SHARD_MIN_ROWS = 20_000


def parquet_schema(folder: ShardFolder) -> pa.Schema:
    fields = [("dialogue_id", pa.string()), ("turn_index", pa.int64()), ("role", pa.string()),
              ("labels", pa.struct([(task.name, pa.string()) for task in folder.tasks])),
              ("probs", pa.struct([(task.name, pa.struct([(label, pa.float64()) for label in task.labels]))
                                   for task in folder.tasks])),
              ("perceived", pa.struct([(dim, pa.float64()) for dim in folder.dims]) if folder.dims else pa.null()),
              ("truncated", pa.bool_()), ("truncated_parts", pa.list_(pa.string())), ("repeats", pa.bool_()),
              ("gold", pa.string())]
    signed = [("scored_by", pa.string())] if folder.lines.scored_by else []       # its JSON text, as gold's
    return pa.schema(fields + ([("text", pa.string())] if folder.lines.include_text else []) + signed)


def parquet_row(record: dict) -> dict:
    """A per-turn record as a row of the Parquet schema: `gold` and the `scored_by` signature as JSON text."""
    gold, signed = record.get("gold"), record.get("scored_by")
    return {**record, "gold": dumps_record(gold) if gold else None, "perceived": record["perceived"] or None,
            **({"scored_by": dumps_record(signed)} if signed else {})}


class ShardSink(BlockBasedFileDatasink):
    """Writes the `json` column of the actors' blocks (distributed._ShardActor) as JSONL or Parquet
    files; after the write, `scored` maps each chunk's number to its scored dialogues."""

    def __init__(self, folder: ShardFolder):
        super().__init__(folder.path, min_rows_per_file=SHARD_MIN_ROWS,
                         file_format="parquet" if folder.parquet else "jsonl")
        self.schema = parquet_schema(folder) if folder.parquet else None
        self.scored: dict[int, list] = {}

    def write(self, blocks: Iterable, ctx) -> list[tuple[int, bytes]]:
        chunks: list[tuple[int, bytes]] = []

        def records():
            for block in blocks:
                table = BlockAccessor.for_block(block).to_arrow()
                chunks.extend((number, scored) for number, scored in
                              zip(table["chunk"].to_pylist(), table["scored"].to_pylist()) if scored is not None)
                yield table.select(["json"])
        super().write(records(), ctx)
        return chunks

    def write_block_to_file(self, block: BlockAccessor, file) -> None:
        lines = block.to_arrow()["json"].to_pylist()
        if self.schema is None:
            file.write("".join(line + "\n" for line in lines).encode("utf-8"))
        else:
            rows = [parquet_row(json.loads(line)) for line in lines]
            pq.write_table(pa.Table.from_pylist(rows, schema=self.schema), file)

    def on_write_complete(self, write_result) -> None:
        super().on_write_complete(write_result)
        self.scored = {number: pickle.loads(scored) for chunks in write_result.write_returns
                       for number, scored in chunks}


def write_shards(scored, folder: ShardFolder) -> dict[int, list]:
    """Write the records of `scored` (the actors' Dataset) into `folder`; each chunk's number -> its
    scored dialogues."""
    sink = ShardSink(folder)
    scored.write_datasink(sink)
    return sink.scored
