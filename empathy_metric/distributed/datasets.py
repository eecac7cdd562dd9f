"""A `ray.data.Dataset` of dialogue records in, a Dataset of per-turn records out (`score_dataset`),
for inputs too large for one driver; `summarize` computes the run summary on the driver from those
records with the local engine's code (scoring/run_summary.py)."""
from __future__ import annotations

import json
from typing import Callable, Iterable, Iterator

from ..errors import InputError
from ..io.readers import ReaderOptions
from ..io.readers.records import record_to_dialogue
from ..io.turn_records import JsonlFormat, group_saved_scores, jsonl_lines, scored_by
from ..pipeline.accounting import Counts
from ..reporting.comparison import saved_row
from ..reporting.gating import GatePlan
from ..reporting.statistics import BootstrapSettings
from ..scoring.run_summary import run_summary
from ..scoring.scorer import Scorer
from .cluster import require_ray

ROW_SOURCE = "<dataset>"


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
    return run_summary(scorer, list(inputs), counts, rows, bootstrap, gates)[0]
