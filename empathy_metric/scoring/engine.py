"""Where a scorer's chunks of dialogues run: in this process, in local worker processes, or on Ray
actors (distributed/). One object, chosen once from the options, declares what it can do; the
scoring code asks it, never which pool it is.

"workers" means processes (or Ray actors) everywhere: the threads of a process are ONNX Runtime's
business (`threads`), shared out among the workers when the scorer is built.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

from ..pipeline.parallel import WorkerPool

# Input bytes per chunk window in a block (`Engine.block_bytes`): ESConv valid.json holds ~320 per window.
BYTES_PER_WINDOW = 320

LOCAL, RAY = "local", "ray"


@dataclass(frozen=True)
class Engine:
    """Where chunks run, and what that place can do.

    - `workers`: processes (or actors) that score chunks; one local worker means this process.
    - `make_pool(workers, initializer, initargs[, shards=])`: starts them (`pipeline.parallel.WorkerPool`,
      or `distributed.RayPool`); each runs `initializer(*initargs)` once, then jobs.
    - `pools_one_worker`: a pool even for one worker (Ray: the model lives on the cluster).
    - `reads_blocks`: workers can read their own blocks of a JSONL input (scoring/block_scoring.py).
    - `writes_shards`: workers can write per-turn records themselves (`-o DIR/`).
    - `model_in_parent`: the model runs in this process, the workers do the CPU stages around it
      (one process per GPU); only where the backend can run batches encoded elsewhere.
    - `bytes_per_window`: input bytes per chunk window in a block (blocks are cut by size)."""
    name: str = LOCAL
    workers: int = 1
    make_pool: Callable = WorkerPool
    pools_one_worker: bool = False
    reads_blocks: bool = True
    writes_shards: bool = False
    model_in_parent: bool = False
    bytes_per_window: int = BYTES_PER_WINDOW

    @property
    def uses_pool(self) -> bool:
        return self.workers > 1 or self.pools_one_worker

    def pool(self, initializer: Callable, initargs: tuple, shards=None):
        """The workers, as a context manager with `ordered(function, jobs)` and `run_now(function, job)`."""
        if shards is not None:
            return self.make_pool(self.workers, initializer, initargs, shards=shards)
        return self.make_pool(self.workers, initializer, initargs)

    def block_bytes(self, windows_per_chunk: int) -> int:
        """Bytes of a JSONL input per block (io.readers.BlockCutter): chunks never span two, so that
        workers can read whole blocks; about one chunk's windows of typical logs."""
        return windows_per_chunk * self.bytes_per_window

    def with_block_size(self, bytes_per_window: int) -> "Engine":
        return replace(self, bytes_per_window=bytes_per_window)


def local_engine(workers: int = 1, model_in_parent: bool = False,
                 bytes_per_window: int = BYTES_PER_WINDOW) -> Engine:
    """This process, or `workers` local processes (`--workers`)."""
    return Engine(LOCAL, max(1, workers), model_in_parent=model_in_parent and workers > 1,
                  bytes_per_window=bytes_per_window)


def pooled_engine(name: str, workers: int, make_pool: Callable, writes_shards: bool = False) -> Engine:
    """An engine whose every chunk goes to a pool of workers that hold the model themselves and get
    their dialogues parsed (the Ray adapter builds one)."""
    return Engine(name, max(1, workers), make_pool, pools_one_worker=True, reads_blocks=False,
                  writes_shards=writes_shards)
