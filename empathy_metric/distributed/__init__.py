"""The Ray Data engine (extra [ray]): scoring beyond one machine, on an existing Ray cluster.

- `score --engine ray`: the run is the local one (reading, accounting, --resume, writing, summary on
  the driver), with its chunks of dialogues scored by `map_batches` over a pool of actors that each
  hold the model (`RayPool`: what `--workers` does with processes). Outputs are the local engine's,
  byte for byte. With `-o DIR/` the per-turn records go from the actors to Ray's file writers
  (shards.py) and only per-dialogue metrics come back to the driver.
- `score_dataset(ds, ...)`: a `ray.data.Dataset` of dialogue records (rows as in a JSONL log) -> a
  Dataset of per-turn records, for inputs too large for one driver; `summarize(...)` computes the
  summary (aggregates, bootstrap CIs, gates) on the driver from those records with the local code.
"""
from __future__ import annotations

import functools
import importlib.util
import json
import logging
import pickle
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

from ..api import Scorer
from ..errors import InputError, ModelError, UsageError
from ..io.readers import ReaderOptions
from ..io.readers.records import record_to_dialogue
from ..io.writers import JsonlFormat, ShardFolder, jsonl_lines, scored_by
from ..pipeline.accounting import Counts
from ..pipeline.parallel import Job, Ready
from ..reporting.comparison import group_saved_scores, saved_row
from ..reporting.gating import GatePlan, estimates_from_table
from ..reporting.statistics import BootstrapSettings
from ..reporting.summary import build_summary, corpus_table

ROW_SOURCE = "<dataset>"


def require_ray(what: str = "--engine ray") -> None:
    """A UsageError naming the extra when Ray Data is not installed (before any work)."""
    if importlib.util.find_spec("ray") is None:
        raise UsageError(f"{what} needs the 'ray' extra (Ray Data): pip install 'empathy-metric[ray]'")


def connect(address: str | None = None, num_cpus: int | None = None) -> None:
    """Join the cluster at `address` ('auto': the one this machine belongs to), or start a local one
    (`num_cpus`: its size) when None. Ray Data then keeps the input order and shows no progress bars."""
    require_ray()
    import ray
    import ray.data
    if not ray.is_initialized():
        # Ray's own INFO/WARNING lines would bury ours on stderr
        ray.init(address=address, num_cpus=None if address else num_cpus, include_dashboard=False,
                 log_to_driver=False, logging_level=logging.ERROR)
    for name in ("ray", "ray.data"):
        logging.getLogger(name).setLevel(logging.ERROR)
    context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True
    context.enable_progress_bars = False
    context.print_on_execution_start = False


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
    """`pipeline.parallel.WorkerPool`'s interface on Ray (`Scorer.pool`): `workers` actors, each with
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
    scorer.pool = functools.partial(RayPool, num_gpus=1 if device == "cuda" else 0)
    scorer.engine = "ray"


# ---- a Dataset in, a Dataset out -------------------------------------------------------------------

class _DialogueScorer:
    """An actor holding the scorer; rows (dialogue records) -> per-turn records."""

    def __init__(self, recipe: Callable[..., Scorer], threads: int, options: ReaderOptions, include_text: bool):
        self.scorer = recipe(threads=threads)
        self.options = options
        self.format = JsonlFormat(include_text, scored_by(self.scorer.bundle.signature(), self.scorer.settings()))

    def __call__(self, batch) -> dict:
        dialogues = []
        for record in batch.to_pylist():
            dialogue = record_to_dialogue(record, self.options, ROW_SOURCE)
            if dialogue.dialogue_id == ROW_SOURCE:
                raise InputError("a dataset row has no id: score_dataset needs an id in every record "
                                 f"(looked for '{self.options.id_key or 'id'}')", source=ROW_SOURCE)
            dialogues.append(dialogue)
        rows = {"dialogue_id": [], "turn_index": [], "json": []}
        for scored in self.scorer.iter_scores(dialogues, Counts()):
            for line in jsonl_lines(self.format.render(scored)):
                record = json.loads(line)
                rows["dialogue_id"].append(record["dialogue_id"])
                rows["turn_index"].append(record["turn_index"])
                rows["json"].append(line)
        return rows


def score_dataset(ds, model: str | None = None, *, device: str = "cpu", threads: int = 1,
                  max_batch_tokens: int = 16384, batch_size: int = 128, agent_roles: Iterable[str] | None = None,
                  future_context: bool = True, include_text: bool = False, options: ReaderOptions | None = None,
                  dialogues_per_batch: int = 64, concurrency: int | None = None):
    """A Dataset of dialogue records (each row a record as in a JSONL log, with an id) -> a Dataset of
    per-turn records: `dialogue_id`, `turn_index` and `json` (the record exactly as `-o turns.jsonl`
    writes it), a dialogue's turns together, dialogues in input order. `map_batches` runs
    `concurrency` actors (default: as many as the cluster's CPUs allow), each holding the model
    with `threads` ONNX Runtime threads; `device='cuda'` gives each actor one GPU."""
    require_ray("score_dataset")
    scorer = Scorer.from_pretrained(model, device=device, threads=threads, max_batch_tokens=max_batch_tokens,
                                    max_batch_size=batch_size, agent_roles=agent_roles, future_context=future_context)
    options = options or ReaderOptions(agent_roles=scorer.agent_roles)
    import ray.data
    return ds.map_batches(_DialogueScorer, fn_constructor_args=(scorer.recipe, threads, options, include_text),
                          batch_size=dialogues_per_batch, batch_format="pyarrow", num_cpus=threads,
                          num_gpus=1 if device == "cuda" else 0,
                          compute=ray.data.ActorPoolStrategy(size=concurrency) if concurrency
                          else ray.data.ActorPoolStrategy(min_size=1))


def summarize(turn_records: Iterable[str | dict], scorer: Scorer, bootstrap: BootstrapSettings | None = None,
              gates: GatePlan | None = None, inputs: list[str] = ()) -> dict:
    """The run summary from per-turn records in input order (the `json` column of `score_dataset`, or
    the lines of a per-turn .jsonl): per-dialogue metrics, corpus means, bootstrap CIs and gates, on
    the driver, with the local engine's code and seed. Counts hold what per-turn records tell
    (dialogues and turns scored, windows truncated), not what was read."""
    def records() -> Iterator[tuple[str, int, dict]]:
        for line, record in enumerate(turn_records, start=1):
            yield ROW_SOURCE, line, json.loads(record) if isinstance(record, str) else record
    rows, counts = [], Counts()
    for utterances in group_saved_scores(records(), scorer.tasks, scorer.perceived):
        rows.append(saved_row(utterances, scorer.tasks, scorer.perceived))
        counts.turns_scored += len(utterances)
        counts.windows_truncated += sum(u.truncated for u in utterances)
    counts.dialogues_scored = len(rows)
    summary = build_summary(scorer.bundle.signature(), scorer.settings(), list(inputs), counts.to_dict(),
                            corpus_table(rows, bootstrap), rows)
    summary["bootstrap"] = bootstrap.to_dict() if bootstrap else {"unit": "dialogue", "n_resamples": 0}
    if gates is not None:
        summary["gates"] = gates.evaluate(estimates_from_table(summary["corpus"])).to_list()
    return summary
