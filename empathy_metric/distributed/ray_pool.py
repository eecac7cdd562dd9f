"""`score --engine ray`: the scoring engine's chunks scored by Ray Data's `map_batches` over a pool of
actors that each hold the model (`RayPool`: what `--workers` does with processes), as a
`scoring.engine.Engine` that `use_ray` gives the scorer. With `-o DIR/` the per-turn records go
from the actors to Ray's file writers (shards.py) and only per-dialogue metrics come back."""
from __future__ import annotations

import functools
import pickle
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

from ..errors import ModelError, UsageError
from ..io.turn_records import JsonlFormat, jsonl_lines
from ..io.writers import ShardFolder
from ..pipeline.parallel import Job, Ready
from ..scoring.engine import RAY, pooled_engine
from ..scoring.scorer import Scorer
from .cluster import connect


def _objects(values: list):
    """A 1-D numpy object array of `values` (numpy would turn lists into more dimensions)."""
    import numpy as np
    array = np.empty(len(values), dtype=object)
    for k, value in enumerate(values):
        array[k] = value
    return array


class _ChunkActor:
    """One actor: `initializer(*initargs)` once (it loads the model), then `function(job)` per row
    (a row: the chunk's number and its job)."""

    def __init__(self, initializer: Callable, initargs: tuple, function: Callable):
        initializer(*initargs)
        self.function = function

    def __call__(self, batch: dict) -> dict:
        return {"scored": _objects([self.function(job) for _, job in batch["data"]])}


class _ShardActor(_ChunkActor):
    """A chunk -> its per-turn records (`json`: the lines of `lines`), with the chunk's number and, on
    its first record, the chunk's scored dialogues (pickled, without their per-turn text) for the
    driver: what shards.ShardSink writes and hands back."""

    def __init__(self, initializer: Callable, initargs: tuple, function: Callable, lines: JsonlFormat):
        super().__init__(initializer, initargs, function)
        self.lines = lines

    def __call__(self, batch: dict):
        import pyarrow as pa
        (number, job), = batch["data"]
        scored = self.function(job)
        records = [line for dialogue in scored for line in jsonl_lines(dialogue.rendered.pop(self.lines))]
        return pa.table({"json": pa.array(records, pa.string()),
                         "chunk": pa.array([number] * len(records), pa.int64()),
                         "scored": pa.array([pickle.dumps(scored)] + [None] * (len(records) - 1), pa.binary())})


@dataclass
class RayPool:
    """`pipeline.parallel.WorkerPool`'s interface on Ray (`scoring.engine.Engine.make_pool`): `workers` actors, each with
    `num_gpus` GPUs. The chunks travel as one Dataset, so the driver holds the input's dialogues at
    once; `score_dataset` is the way for inputs larger than that. With `shards`, the per-turn records
    are written there by Ray's writers and the chunks come back, all at the end, without them."""
    workers: int
    initializer: Callable
    initargs: tuple
    num_gpus: float = 0
    shards: ShardFolder | None = None

    def __enter__(self) -> "RayPool":
        return self

    def __exit__(self, *exc) -> None:
        return None

    def ordered(self, function: Callable, items: Iterable[Job | Ready]) -> Iterator[tuple[Job | Ready, Any]]:
        import ray.data
        items = list(items)
        # one block per chunk, so that every actor gets chunks
        jobs = ray.data.from_numpy([_objects([(item.number, item.payload)]) for item in items
                                    if isinstance(item, Job)])
        actor, arguments = ((_ShardActor, (self.initializer, self.initargs, function, self.shards.lines))
                            if self.shards else (_ChunkActor, (self.initializer, self.initargs, function)))
        # Ray restarts an actor that dies and retries its chunk (its core logs a line about that at start)
        scored = jobs.map_batches(actor, fn_constructor_args=arguments, batch_size=1, batch_format="numpy",
                                  num_gpus=self.num_gpus, compute=ray.data.ActorPoolStrategy(size=self.workers))
        if self.shards:
            from .shards import write_shards
            written = write_shards(scored, self.shards)
            results = (written.get(item.number) for item in items if isinstance(item, Job))
        else:
            results = (row["scored"] for row in scored.iter_rows())
        for item in items:
            if isinstance(item, Ready):
                yield item, item.value
                continue
            result = next(results, None)
            if result is None:
                raise ModelError(f"Ray returned no result for chunk {item.number} "
                                 f"(dialogues {item.first} to {item.last})")
            yield item, result


def use_ray(scorer: Scorer, address: str | None = None, device: str = "cpu") -> None:
    """Make `scorer` score its chunks on Ray (`score --engine ray`): its `workers` become actors, one
    GPU each with `device='cuda'`."""
    if scorer.recipe is None:
        raise UsageError("--engine ray: this model cannot be rebuilt in other processes (zero-shot scores in one)")
    connect(address, num_cpus=scorer.workers * scorer.worker_threads)
    make_pool = functools.partial(RayPool, num_gpus=1 if device == "cuda" else 0)
    scorer.run_on(pooled_engine(RAY, scorer.workers, make_pool, writes_shards=True))
