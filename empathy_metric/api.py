"""The Python API, and the one place where the scoring stages are put together. The CLI commands,
the `evaluate` metric and the training side's evaluation call these; none re-implements a stage.

- `Scorer`: a bundle and its backend. `score(dialogues)` in memory, `iter_scores(...)` streaming one
  dialogue at a time, `score_windows(windows)` for windows cut elsewhere.
- `score_files`: one scoring run as `empathy-score score` does it: read -> score -> per-turn files ->
  summary with CIs -> gates.
- `compare_files`: two releases over the same conversations, paired by dialogue id (`compare`).
- `score_responses`: generated responses in their context (the `evaluate` metric).
- `analyze_files`: human ratings related to the metrics (`analyze`): agreement and the intent table.
"""
from __future__ import annotations

import contextlib
import functools
import itertools
import os
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterable, Iterator

from .bundle import Bundle, load_bundle
from .dialogue import DEFAULT_AGENT_ROLES, Dialogue, Turn, normalize_role
from .errors import InputError, ModelError, UsageError
from .io.ratings import Rating, RatingsOptions, RecordRating, read_ratings
from .io.readers import ReaderOptions, ReadStats, read_path_list
from .io.readers.records import check_dialogue_iterable, clean_text, record_to_dialogue
from .io.output_paths import check_output_paths, check_shard_outputs
from .io.run_outputs import RunOutputs
from .io.writers import SCORE_KINDS, SHARDS, ShardFolder, output_kind, write_json, write_text
from .pipeline.accounting import Counts
from .pipeline.aggregation import DialogueScore, corpus_means, dialogue_score, metric_names
from .pipeline.decoding import UtteranceScore, decode
from .pipeline.encoding import BatchPlan, PreparedWindows, WindowEncoder, load_tokenizer, prepare_windows
from .io.readers.blocks import parsed_in_workers
from .pipeline.parallel import Job, Ready, WorkerPool, usable_cores
from .pipeline.windows import Window, dialogue_windows, is_agent_role, is_blank, without_blank_turns
from .reporting.analysis import analyze_rating
from .reporting.gating import GateEvaluation, GatePlan, drop_gates, estimates_from_table, plan_gates
from .reporting.html_report import require_report_extra
from .reporting.junit import write_junit
from .reporting.metric_catalog import catalog, directions, validity_warnings
from .reporting.rated_units import ScoredDialogue, intents, rated_units
from .reporting.statistics import BootstrapSettings
from .reporting.summary import DialogueRow, build_summary, corpus_table
from .reporting.transcripts import LowestTranscripts, Transcript, sort_metric, transcript_of
from .runtime import Backend, RawOutputs, load_backend

# A dialogue's scores known without running the model (e.g. read back from an interrupted run's
# output), or None: known(dialogue, its windows) -> DialogueScore | None.
KnownScores = Callable[[Dialogue, list[Window]], "DialogueScore | None"]
# Input bytes per chunk window in a block (Scorer.block_bytes): ESConv valid.json holds ~320 per window.
BYTES_PER_WINDOW = 320


@dataclass
class ScoreResult:
    """What `Scorer.score` returns: always this type, whatever flags were given."""
    utterances: list[UtteranceScore]
    dialogues: list[DialogueScore]
    corpus: dict[str, float]
    counts: Counts
    signature: dict
    settings: dict = field(default_factory=dict)


class Scorer:
    """`workers` > 1: dialogues are scored in that many worker processes (`pipeline/parallel.py`), each
    holding the scorer that `recipe(threads=)` builds; results are the same as in one process.
    `pool` makes the workers: `pool(workers, initializer, initargs)` (a process pool; the Ray engine
    swaps in `distributed.RayPool`, and `engine` becomes 'ray': it can write per-turn shards).
    With a `stages_recipe` (inference in this process: one process per GPU), the workers hold only
    the CPU stages that it builds: they cut and encode windows into batches, this process runs them
    through the model, and they decode, aggregate and render the results."""

    def __init__(self, bundle: Bundle, backend: Backend, agent_roles: frozenset[str] = DEFAULT_AGENT_ROLES,
                 future_context: bool = True, workers: int = 1, recipe: Callable[..., "Scorer"] | None = None,
                 worker_threads: int = 1):
        self.bundle = bundle
        self.agent_roles = frozenset(normalize_role(r) for r in agent_roles)
        self.window_settings = bundle.window if future_context else bundle.window.without_future()
        self.backend = backend if future_context else backend.with_settings(self.window_settings)
        self.tasks = bundle.tasks
        self.perceived = bundle.perceived
        self.workers = workers if recipe is not None else 1
        self.recipe, self.worker_threads = recipe, worker_threads
        self.stages_recipe: Callable[..., "Scorer"] | None = None
        self.pool: Callable = WorkerPool
        self.engine = "local"

    @classmethod
    def from_pretrained(cls, model: str | None = None, device: str = "cpu", threads: int | None = None,
                        max_batch_tokens: int = 16384, max_batch_size: int = 128,
                        agent_roles: Iterable[str] | None = None, future_context: bool = True,
                        verify: bool = True, workers: int = 1, inference: str = "auto") -> "Scorer":
        """`workers` > 1: score in that many processes. `inference` says where the model runs:
        'workers' (each loads it with `threads` // `workers` ONNX Runtime threads, at least one;
        `threads` defaults to the usable cores), 'here' (this process alone holds it, the workers do
        the CPU stages: one process per GPU) or 'auto' ('here' on CUDA, else 'workers'). Backends
        that cannot run batches encoded elsewhere (torch, seq2seq) always run in the workers."""
        if inference not in ("auto", "workers", "here"):
            raise UsageError(f"inference={inference!r}: expected 'auto', 'workers' or 'here'")
        bundle = load_bundle(model, verify=verify)
        backend = load_backend(bundle, device, threads, max_batch_tokens, max_batch_size)
        roles = frozenset(agent_roles) if agent_roles else DEFAULT_AGENT_ROLES
        recipe = functools.partial(cls.from_pretrained, str(bundle.path), device=device,
                                   max_batch_tokens=max_batch_tokens, max_batch_size=max_batch_size,
                                   agent_roles=roles, future_context=future_context, verify=verify)
        scorer = cls(bundle, backend, roles, future_context, workers, recipe,
                     max(1, (threads or usable_cores()) // workers))
        here = inference == "here" or (inference == "auto" and device == "cuda")
        if here and hasattr(backend, "run_prepared"):
            scorer.stages_recipe = functools.partial(cls.cpu_stages, str(bundle.path), backend.plan, roles,
                                                     future_context, verify, backend.windows_per_chunk)
        return scorer

    @classmethod
    def cpu_stages(cls, model: str, plan: BatchPlan, agent_roles: frozenset[str], future_context: bool,
                   verify: bool, windows_per_chunk: int, threads: int = 1) -> "Scorer":
        """A scorer without the model, for a worker of a run whose inference is elsewhere: it prepares
        a chunk's batches (`prepare_step`) and decodes their outputs (`_score_step(chunk, outputs)`)."""
        bundle = load_bundle(model, verify=verify)
        return cls(bundle, CpuStages(bundle, plan, windows_per_chunk), agent_roles, future_context)

    def settings(self) -> dict:
        return {"window": self.window_settings.to_dict(), "agent_roles": sorted(self.agent_roles)}

    def score(self, dialogues: Iterable[Dialogue | dict[str, Any]]) -> ScoreResult:
        check_dialogue_iterable(dialogues)
        counts = Counts()
        scored = list(self.iter_scores(self._as_dialogues(dialogues, counts), counts))
        counts.check_records()
        return ScoreResult(utterances=[u for d in scored for u in d.utterances], dialogues=scored,
                           corpus=corpus_means([d.metrics for d in scored]), counts=counts,
                           signature=self.bundle.signature(), settings=self.settings())

    def _as_dialogues(self, items, counts: Counts) -> Iterator[Dialogue]:
        options = ReaderOptions(agent_roles=self.agent_roles)
        for number, item in enumerate(items):
            counts.records_read += 1
            if isinstance(item, Dialogue):
                yield item
            else:
                try:
                    yield record_to_dialogue(item, options, f"<input>:{number}")
                except InputError as exc:
                    raise InputError(exc.reason, source="<input>", line=number, field=exc.field) from None

    def score_windows(self, windows: list[Window]) -> list[UtteranceScore]:
        """Windows -> decoded scores, in their order, a backend chunk at a time (bounded memory)."""
        scores: list[UtteranceScore] = []
        chunk = self.backend.windows_per_chunk
        for start in range(0, len(windows), chunk):
            part = windows[start:start + chunk]
            scores += self._decoded(part, self.backend.predict(part))
        return scores

    def _decoded(self, windows: list[Window], raw: RawOutputs) -> list[UtteranceScore]:
        return decode(windows, raw.outputs, raw.truncated, self.tasks, self.perceived)

    def iter_scores(self, dialogues: Iterable[Dialogue], counts: Counts, on_error: str = "raise",
                    known: KnownScores | None = None, formats: tuple = (),
                    keep_utterances: bool = True, shards: ShardFolder | None = None) -> Iterator[DialogueScore]:
        """Score dialogues in chunks of windows; yield each dialogue, in input order, when done.
        `counts` is updated as dialogues pass (records_read is the reader's business). A dialogue for
        which `known` returns scores is not run through the model again. With workers, dialogues come
        back with their per-turn text in `formats` (io.writers) rendered, and without `utterances`
        unless `keep_utterances`: unpickling them cost the parent more than writing them. `shards`
        (engine 'ray'): the pool writes the per-turn records there, and every chunk goes to it."""
        steps = self._steps(dialogues, counts, on_error, known)
        with contextlib.ExitStack() as stack:
            if self.workers > 1 or self.pool is not WorkerPool:     # a Ray pool even with one actor
                results = self._in_workers(steps, stack, (tuple(formats), keep_utterances), shards)
            else:
                results = (self._score_step(step) for step in steps)
            for scored in results:
                for dialogue in scored:
                    counts.dialogues_scored += 1
                    counts.windows_truncated += dialogue.windows_truncated
                    yield dialogue
        counts.check()

    def _steps(self, dialogues: Iterable[Dialogue], counts: Counts, on_error: str,
               known: KnownScores | None, seen: dict[str, str] | None = None
               ) -> Iterator["DialogueScore | list[Dialogue]"]:
        """The bookkeeping of `iter_scores`, in input order: duplicates, counts, dialogues without an
        agent turn. Yields a chunk of dialogues to score (about `windows_per_chunk` windows, never two
        input blocks: io.readers.BlockCutter), or a dialogue's scores that `known` gave. `seen`: the
        dialogue ids met so far (id -> where), filled in."""
        pending: list[Dialogue] = []
        n_windows = 0
        seen = {} if seen is None else seen
        for dialogue in dialogues:
            if pending and dialogue.block != pending[-1].block:
                yield pending
                pending, n_windows = [], 0
            if dialogue.dialogue_id in seen:
                error = InputError(f"duplicate dialogue id '{dialogue.dialogue_id}' "
                                   f"(first seen at {seen[dialogue.dialogue_id]})",
                                   source=dialogue.source or None)
                if on_error != "skip":
                    raise error
                counts.records_skipped["duplicate_dialogue_id"] = \
                    counts.records_skipped.get("duplicate_dialogue_id", 0) + 1
                continue
            seen[dialogue.dialogue_id] = dialogue.source or dialogue.dialogue_id
            self._count_read(dialogue, counts)
            dialogue, blank = without_blank_turns(dialogue)
            if blank:
                counts.add_skipped("empty_text", blank)     # as the readers count them
            n_agent = 0
            for turn in dialogue.turns:
                if is_agent_role(turn.role, self.agent_roles):
                    n_agent += 1
                else:
                    role = " ".join(turn.role.split())
                    counts.roles_not_scored[role] = counts.roles_not_scored.get(role, 0) + 1
            if not n_agent:
                counts.add_skipped("dialogue_without_agent_turn", len(dialogue.turns))
                counts.skip_dialogue("no_agent_turn" if dialogue.turns else "no_turns")
                continue
            counts.turns_scored += n_agent
            counts.turns_context += len(dialogue.turns) - n_agent
            reused = None
            if known is not None:
                reused = known(dialogue, dialogue_windows(dialogue, self.window_settings, self.agent_roles))
            if reused is not None:
                if pending:
                    yield pending                             # keeps the output in input order
                pending, n_windows = [], 0
                yield reused
                continue
            pending.append(dialogue)
            n_windows += n_agent
            if n_windows >= self.backend.windows_per_chunk:
                yield pending
                pending, n_windows = [], 0
        if pending:
            yield pending

    @staticmethod
    def _count_read(dialogue: Dialogue, counts: Counts) -> None:
        counts.turns_read += dialogue.turns_read
        counts.non_text_parts_skipped += dialogue.truncated_parts
        for reason, n in dialogue.skipped.items():
            counts.add_skipped(reason, n)

    def _score_step(self, step: "DialogueScore | list[Dialogue]", outputs: RawOutputs | None = None
                    ) -> list[DialogueScore]:
        """A chunk's dialogue scores; `outputs`: its windows' model outputs, computed elsewhere."""
        if isinstance(step, DialogueScore):
            return [step]
        windows = self._windows_of(step)
        flat = [w for ws in windows for w in ws]
        utterances = self.score_windows(flat) if outputs is None else self._decoded(flat, outputs)
        scored, start = [], 0
        for dialogue, ws in zip(step, windows):
            mine = utterances[start:start + len(ws)]
            start += len(ws)
            scored.append(dialogue_score(dialogue.dialogue_id, mine, self.tasks, self.perceived,
                                         turns=dialogue.turns))
        return scored

    def _in_workers(self, steps: Iterator, stack: contextlib.ExitStack, output: tuple,
                    shards: ShardFolder | None = None) -> Iterator[list[DialogueScore]]:
        """`_score_step` in worker processes. Without `shards`, the pool starts only when a second chunk
        comes: one chunk is scored here (starting workers would cost more than it saves)."""
        held: list = []
        for step in steps:
            held.append(step)
            if shards is not None or sum(not isinstance(s, DialogueScore) for s in held) == 2:
                break
        else:
            yield from (self._score_step(step) for step in held)
            return
        make_pool = functools.partial(self.pool, shards=shards) if shards is not None else self.pool
        here = self.stages_recipe is not None and self.pool is WorkerPool
        pool = stack.enter_context(make_pool(self.workers, _start_worker,
                                             (self.stages_recipe if here else self.recipe, self.worker_threads)))
        jobs = (Ready([step]) if isinstance(step, DialogueScore) else
                Job((step, *output), number, _describe(step[0]), _describe(step[-1]))
                for number, step in enumerate(itertools.chain(held, steps), start=1))
        if here:
            jobs = self._inferred_here(pool.ordered(_prepare_in_worker, jobs))
        for job, scored in pool.ordered(_score_in_worker, jobs):
            if isinstance(job, Job):                # the turns stayed here: put them back
                for dialogue, score in zip(job.payload[0], scored):
                    score.turns = dialogue.turns
            yield scored

    def reads_in_workers(self, paths: list[str], options: ReaderOptions) -> bool:
        """Whether `--workers` can read these inputs in the workers too (block_scoring.py)."""
        return self.workers > 1 and self.pool is WorkerPool and \
            parsed_in_workers(paths, options, self.workers, self.block_bytes)

    @property
    def block_bytes(self) -> int:
        """Bytes of a JSONL input per block (io.readers.BlockCutter): chunks never span two, so that
        workers can read whole blocks; about one chunk's windows of typical logs."""
        return self.backend.windows_per_chunk * BYTES_PER_WINDOW

    def _windows_of(self, dialogues: list[Dialogue]) -> list[list[Window]]:
        return [dialogue_windows(d, self.window_settings, self.agent_roles) for d in dialogues]

    def _inferred_here(self, prepared: Iterator[tuple[Job | Ready, Any]]) -> Iterator[Job | Ready]:
        """Each chunk's batches, encoded by a worker, run through the model here; the chunk goes back
        to a worker with its outputs, as a job of `_score_in_worker`."""
        for job, value in prepared:
            if isinstance(job, Job):
                job = replace(job, payload=(*job.payload, self.backend.run_prepared(value)))
            yield job

    def prepare_step(self, dialogues: list[Dialogue]) -> PreparedWindows:
        return self.backend.prepare([w for ws in self._windows_of(dialogues) for w in ws])


class CpuStages:
    """The backend of a worker whose model runs in another process: it cuts and encodes windows into
    the batches that model's backend would make (`plan`), and takes their outputs back."""

    def __init__(self, bundle: Bundle, plan: BatchPlan, windows_per_chunk: int, settings=None):
        self.bundle, self.plan = bundle, plan
        self.windows_per_chunk = windows_per_chunk      # the model backend's: the chunks it would cut
        self.encoder = WindowEncoder(load_tokenizer(bundle.file("tokenizer")), settings or bundle.window)

    def with_settings(self, settings) -> "CpuStages":
        return CpuStages(self.bundle, self.plan, self.windows_per_chunk, settings)

    def prepare(self, windows: list[Window]) -> PreparedWindows:
        return prepare_windows(self.encoder, windows, self.plan)

    def predict(self, windows: list[Window]) -> RawOutputs:
        raise ModelError("internal: the CPU stages of a scoring run hold no model; its process does")


# ---- --workers: what each worker process holds and does -------------------------------------------

_worker_scorer: Scorer | None = None


def _start_worker(recipe: Callable[..., Scorer], threads: int) -> None:
    global _worker_scorer
    os.environ["RAYON_NUM_THREADS"] = str(threads)     # the tokenizer's pool, as ORT's: cores / workers
    _worker_scorer = recipe(threads=threads)


def _score_in_worker(job: tuple[list[Dialogue], tuple, bool]) -> list[DialogueScore]:
    """One chunk, scored in a worker, its per-turn text rendered in `formats`; the dialogues' turns are
    not sent back (the parent has them), nor their utterances unless `keep_utterances`."""
    dialogues, formats, keep_utterances, *inferred = job      # inferred: the model process's outputs
    scored = _worker_scorer._score_step(dialogues, *inferred)
    for score in scored:
        score.rendered = {f: f.render(score) for f in formats}
        score.turns = []
        if not keep_utterances:
            score.utterances = []
    return scored


def _prepare_in_worker(job: tuple[list[Dialogue], tuple, bool]) -> PreparedWindows:
    return _worker_scorer.prepare_step(job[0])


def _describe(dialogue: Dialogue) -> str:
    return f"'{dialogue.dialogue_id}'" + (f" ({dialogue.source})" if dialogue.source else "")


# ---- one scoring run, as `empathy-score score` does it -------------------------------------------

@dataclass
class RunResult:
    summary: dict
    rows: list[DialogueRow]
    counts: Counts
    read_stats: ReadStats = field(default_factory=ReadStats)
    gates: GateEvaluation | None = None       # the verdicts printed and the exit code come from this


def check_outputs(outputs, allowed: tuple[str, ...] = SCORE_KINDS, command: str = "score",
                  engine: str = "local", inputs: list[str] | None = None) -> list[str]:
    """The kind of every -o path; a UsageError for an unknown extension, for an HTML report without
    the [report] extra, for a folder (per-turn shards) unless `engine` is 'ray', or for an output that
    cannot go with one; with `inputs`, also for a path that names an input, a missing or read-only
    folder, or a shard folder that holds files. Called before any work is done (the CLI calls it
    before loading the model or starting a cluster)."""
    kinds = [output_kind(path, score_kinds(allowed, engine), command) for path in outputs]
    for path, kind in zip(outputs, kinds):
        if kind == "html":
            require_report_extra(path)
    check_shard_outputs(list(outputs), kinds)
    if inputs is not None:
        check_output_paths(list(inputs), list(outputs), score_kinds(allowed, engine))
    return kinds


def score_kinds(allowed: tuple[str, ...], engine: str) -> tuple[str, ...]:
    return allowed + (SHARDS,) if engine == "ray" else allowed


# (records read so far, dialogues scored, agent turns scored), after each dialogue
ProgressCallback = Callable[[int, int, int], None]


def score_files(scorer: Scorer, inputs: list[str], options: ReaderOptions, outputs: list[str],
                on_dialogue: ProgressCallback | None = None,
                bootstrap: BootstrapSettings | None = None, gates: GatePlan | None = None,
                resume: bool = False, allow_empty: bool = False, include_text: bool = False) -> RunResult:
    """Read `inputs`, score them, write per-turn `outputs` as dialogues finish (streaming: only small
    per-dialogue metric rows are kept), then the summary (.json, .md), the report (.html: transcripts
    of at most reporting.transcripts.TRANSCRIPT_CAP dialogues are kept) and gate verdicts (.junit.xml).
    `resume`: keep the dialogues already in the one .jsonl output and append the rest (io/resume.py).
    An input without any record is an InputError unless `allow_empty`. `include_text`: per-turn
    outputs carry the scored turn's text. A folder in `outputs` (engine 'ray') gets the per-turn records
    as shards, written by the cluster."""
    kinds = check_outputs(outputs, engine=scorer.engine, inputs=inputs)   # before any work; never overwrite an input
    shards = next((ShardFolder.of(path, scorer.tasks, scorer.perceived, include_text)
                   for path, kind in zip(outputs, kinds) if kind == SHARDS), None)
    files = [path for path, kind in zip(outputs, kinds) if kind != SHARDS]
    stats, counts, rows = ReadStats(), Counts(), []
    staged = RunOutputs(files, scorer, options, inputs, resume, include_text)   # locks; per-turn files beside
    known, writers = staged.known(scorer, counts), staged.writers
    names = metric_names(scorer.tasks, scorer.perceived)
    transcripts = LowestTranscripts(sort_metric(names)) if "html" in kinds else None
    formats = tuple(w.format for w in writers) + ((shards.lines,) if shards else ())
    if known is None and shards is None and scorer.reads_in_workers(inputs, options):
        from .block_scoring import iter_block_scores
        scores = iter_block_scores(scorer, inputs, options, stats, counts, formats, transcripts is not None)
    else:
        scores = scorer.iter_scores(read_path_list(inputs, options, stats, scorer.block_bytes), counts,
                                    options.on_error, known,
                                    formats=formats, keep_utterances=transcripts is not None, shards=shards)
    try:
        for scored in scores:
            for writer in writers:
                if scored.reused_from != writer.path:     # resumed records are already there
                    writer.write_dialogue(scored)
            rows.append(DialogueRow(scored.dialogue_id, scored.n_turns, scored.metrics))
            if transcripts is not None:
                transcripts.add(scored)
            if on_dialogue:
                on_dialogue(stats.records_read, len(rows), counts.turns_scored)
        _count_reads(counts, stats)
        counts.check_records()
        if counts.records_read == 0 and not allow_empty:
            raise InputError("no records: the input is empty (--allow-empty accepts that)",
                             source=", ".join("<stdin>" if p == "-" else p for p in inputs))
        staged.finish()                 # only now do the per-turn files replace the previous ones
    except BaseException:
        with contextlib.suppress(Exception):    # the error that ended the run is the one to report
            scores.close()              # stops --workers' processes now, not when the error is gone
        staged.abandon()                # previous outputs untouched; the .jsonl partial file kept
        raise
    summary = build_summary(scorer.bundle.signature(), scorer.settings(), list(inputs), counts.to_dict(),
                            corpus_table(rows, bootstrap), rows,
                            {"skipped_record_errors": stats.errors} if stats.errors else None)
    summary["bootstrap"] = bootstrap.to_dict() if bootstrap else {"unit": "dialogue", "n_resamples": 0}
    evaluation = gates.evaluate(estimates_from_table(summary["corpus"])) if gates else None
    if evaluation is not None:
        summary["gates"] = evaluation.to_list()
    for path, kind in zip(outputs, kinds):
        if kind == "json":
            write_json(path, summary)
        elif kind == "junit":
            write_junit(path, evaluation, "empathy-score score")
        elif kind == "md":
            from .reporting.markdown_summary import score_markdown
            write_text(path, score_markdown(summary, directions(scorer.tasks, scorer.perceived)))
        elif kind == "html" and transcripts is not None:
            from .reporting.html_report import score_report
            metrics = catalog(scorer.tasks, scorer.perceived, validity_of(scorer.bundle))
            write_text(path, score_report(summary, metrics, scorer.tasks, scorer.perceived,
                                          transcripts.lowest_first(), transcripts.metric))
    staged.release()
    return RunResult(summary=summary, rows=rows, counts=counts, read_stats=stats, gates=evaluation)


def gate_warnings(bundle: Bundle | None, tasks, dims) -> dict[str, str]:
    """Metric -> why a gate on it may be noise (validity below the floor, or not measured): shown with
    the gate's verdict, never changing it. Nothing when the model is unknown (two saved files, no -m)."""
    return validity_warnings(tasks, dims, validity_of(bundle)) if bundle is not None else {}


def validity_of(bundle: Bundle | None) -> dict:
    """The manifest's `validity` block (each metric's measured agreement with people), or {} when the
    model has none or it is malformed: the report then says "not measured"."""
    validity = bundle.manifest.get("validity", {}) if bundle is not None else {}
    if not isinstance(validity, dict) or not isinstance(validity.get("metrics", {}), dict):
        return {}
    return validity


# ---- two releases compared, as `empathy-score compare` does it ------------------------------------

COMPARE_SUITE = "empathy-score compare"
COMPARE_KINDS = ("json", "junit", "html", "md")
DROPS_SHOWN = 20              # dialogues that dropped most, shown side by side in the HTML report


@dataclass
class CompareResult:
    result: dict                              # what the .json output holds
    table: dict[str, dict]                    # per metric: direction, both means, the delta and its CI
    pairing: object                           # reporting.comparison.Pairing
    gates: GateEvaluation | None = None


def compare_files(baseline: str, candidate: str, options: ReaderOptions, make_scorer: Callable[[], Scorer],
                  model: str | None = None, bootstrap: BootstrapSettings | None = None,
                  max_drop: tuple[str, ...] = (), gate_on: str = "ci", min_dialogues: int = 1,
                  outputs: tuple[str, ...] = ()) -> CompareResult:
    """Compare two releases over the same conversations. Each side is a dialogue log (scored now by
    the scorer `make_scorer()` builds, once) or a per-turn .jsonl saved by `score`; dialogues are
    paired by id; deltas are candidate - baseline with a paired bootstrap CI; `max_drop` gates
    (METRIC=DELTA) judge the deltas. Writes `outputs`: .json (the comparison), .junit.xml (gates),
    .md (a short summary), .html (the report; its side-by-side transcripts of the dialogues that
    dropped most are read again from both inputs, so neither may be stdin)."""
    from .reporting.comparison import delta_table, is_saved_scores, largest_drops, pair, read_saved_rows, \
        tasks_of_saved
    kinds = check_outputs(outputs, COMPARE_KINDS, "compare")
    check_output_paths([baseline, candidate], list(outputs))
    if "html" in kinds and "-" in (baseline, candidate):
        raise UsageError("compare -o *.html reads both inputs twice (for the transcripts of the dialogues "
                         "that dropped most), so neither may be stdin ('-'): give files")
    sides = {path: "scores" if is_saved_scores(path) else "log" for path in (baseline, candidate)}
    scorer: Scorer | None = None

    def scorer_once() -> Scorer:
        nonlocal scorer
        if scorer is None:
            scorer = make_scorer()
        return scorer

    if "log" in sides.values():
        bundle = scorer_once().bundle
    elif model:
        bundle = load_bundle(model)
    else:
        bundle = None
    tasks, dims = (bundle.tasks, bundle.perceived) if bundle else tasks_of_saved(baseline)
    metric_directions = directions(tasks, dims)
    plan = plan_gates(drop_gates(max_drop, metric_directions), gate_on, min_dialogues, bootstrap,
                      metric_directions, subject="delta ", unit="paired dialogues",
                      validity_warnings=gate_warnings(bundle, tasks, dims))

    def rows_of(path: str) -> list[DialogueRow]:
        if sides[path] == "scores":
            return read_saved_rows(path, tasks, dims)
        return score_files(scorer_once(), [path], options, []).rows

    base_rows, cand_rows = rows_of(baseline), rows_of(candidate)
    pairing = pair(base_rows, cand_rows)
    names = metric_names(tasks, dims)
    table = delta_table(base_rows, cand_rows, pairing, names, metric_directions, bootstrap)
    evaluation = plan.evaluate(estimates_from_table(table, mean_key="delta")) if plan else None
    result = {"signature": bundle.signature() if bundle else None,
              "baseline": {"input": baseline, "kind": sides[baseline], "n_dialogues": len(base_rows)},
              "candidate": {"input": candidate, "kind": sides[candidate], "n_dialogues": len(cand_rows)},
              "pairing": pairing.to_dict(),
              "bootstrap": bootstrap.to_dict() if bootstrap else {"unit": "dialogue", "n_resamples": 0},
              "metrics": table}
    if evaluation is not None:
        result["gates"] = evaluation.to_list()
    for path, kind in zip(outputs, kinds):
        if kind == "json":
            write_json(path, result)
        elif kind == "junit":
            write_junit(path, evaluation, COMPARE_SUITE)
        elif kind == "md":
            from .reporting.markdown_summary import compare_markdown
            write_text(path, compare_markdown(result))
        else:
            from .reporting.html_report import compare_report
            metric = sort_metric(names)
            drops = largest_drops(base_rows, cand_rows, pairing, metric, metric_directions[metric], DROPS_SHOWN)
            ids = {dialogue_id for dialogue_id, _ in drops}
            found = {path: transcripts_of(path, sides[path], ids, options, scorer_once, tasks, dims)
                     for path in (baseline, candidate)}
            shown = [{"dialogue_id": i, "delta": delta, "baseline": found[baseline].get(i),
                      "candidate": found[candidate].get(i)} for i, delta in drops]
            write_text(path, compare_report(result, catalog(tasks, dims, validity_of(bundle)), tasks, dims, shown,
                                            metric))
    return CompareResult(result=result, table=table, pairing=pairing, gates=evaluation)


def transcripts_of(path: str, kind: str, ids: set[str], options: ReaderOptions, scorer: Callable[[], Scorer],
                   tasks, dims) -> dict[str, Transcript]:
    """The transcripts of the dialogues `ids` in one compare input, read again: from a log, those
    dialogues are scored again (scores do not depend on batching: tests/test_determinism.py); from a
    saved per-turn file, their records are read back."""
    from .reporting.comparison import iter_saved_scores
    if not ids:
        return {}
    if kind == "scores":
        return {u[0].dialogue_id: transcript_of(dialogue_score(u[0].dialogue_id, u, tasks, dims))
                for u in iter_saved_scores(path, tasks, dims) if u[0].dialogue_id in ids}
    wanted = (d for d in read_path_list([path], options, ReadStats()) if d.dialogue_id in ids)
    return {scored.dialogue_id: transcript_of(scored)
            for scored in scorer().iter_scores(wanted, Counts(), options.on_error)}


# ---- generated responses in their context (the `evaluate` metric) ---------------------------------

USER, AGENT = "user", "assistant"


def _type_name(value) -> str:
    return "null" if value is None else type(value).__name__


def context_list(context, index: int) -> list[str]:
    """A context as a list of turns: one string is one (user) turn; None or "" is no context.
    Lone surrogates (which Python strings may hold and UTF-8 cannot) become '?', as the readers do."""
    if context is None:
        return []
    if isinstance(context, str):
        return [clean_text(context)] if context else []
    if not isinstance(context, (list, tuple)):
        raise InputError(f"contexts[{index}] must be a string or a list of strings, got {_type_name(context)}",
                         field="contexts")
    for k, turn in enumerate(context):
        if not isinstance(turn, str):
            raise InputError(f"contexts[{index}][{k}] must be a string, got {_type_name(turn)}", field="contexts")
    return [clean_text(turn) for turn in context]


def prediction_text(prediction, index: int) -> str:
    if not isinstance(prediction, str):
        raise InputError(f"predictions[{index}] must be a string, got {_type_name(prediction)}",
                         field="predictions")
    return clean_text(prediction)


def response_dialogue(index: int, prediction: str, context: list[str]) -> Dialogue:
    """The context turns alternate user/agent and end with the user's turn; the prediction is the
    agent's reply."""
    prediction = prediction_text(prediction, index)
    n = len(context)
    turns = [Turn(role=USER if (n - 1 - k) % 2 == 0 else AGENT, text=text, index=k)
             for k, text in enumerate(context)]
    turns.append(Turn(role=AGENT, text=prediction, index=n))
    return Dialogue(dialogue_id=f"response-{index:09d}", turns=turns, turns_read=n + 1)


def score_responses(scorer: Scorer, predictions: list[str], contexts: list) -> list[UtteranceScore | None]:
    """One UtteranceScore per prediction, in input order; None for an empty (or whitespace-only)
    prediction, which is never scored. Only the reply is scored: context agent turns are context."""
    if len(predictions) != len(contexts):
        raise InputError(f"{len(predictions)} predictions but {len(contexts)} contexts")
    windows, positions = [], []
    for i, (prediction, context) in enumerate(zip(predictions, contexts)):
        dialogue, _ = without_blank_turns(response_dialogue(i, prediction, context_list(context, i)))
        if not is_blank(prediction):
            windows.append(dialogue_windows(dialogue, scorer.window_settings, scorer.agent_roles)[-1])
            positions.append(i)
    found: list[UtteranceScore | None] = [None] * len(predictions)
    for i, score in zip(positions, scorer.score_windows(windows)):
        found[i] = score
    return found


# ---- human ratings related to the metrics, as `empathy-score analyze` does it ---------------------

# Outputs of `analyze`, by extension: each writer takes the same `AnalysisResult.result` dict.
ANALYZE_OUTPUTS = {".json": "json", ".md": "md", ".html": "html"}


def analyze_output_kind(path: str) -> str:
    """The kind of an analyze -o path; a UsageError for another extension, or for .html without the
    [report] extra (checked before any work)."""
    for suffix, kind in ANALYZE_OUTPUTS.items():
        if path.lower().endswith(suffix):
            if kind == "html":
                require_report_extra(path)
            return kind
    raise UsageError(f"-o {path}: analyze writes .json (everything), .md (the tables in Markdown) or .html "
                     "(the tables in a self-contained page)")


@dataclass
class RatingsRequest:
    """Where the human ratings are: a side file and/or values in the log records (io/ratings.py)."""
    path: str | None = None
    options: RatingsOptions = field(default_factory=RatingsOptions)
    record_ratings: tuple[RecordRating, ...] = ()
    high: dict[str, float] = field(default_factory=dict)   # rating name ("" = every rating) -> threshold

    def __post_init__(self):
        if self.path is None and not self.record_ratings:
            raise UsageError("no ratings: give --ratings FILE and/or --record-rating PATH")


@dataclass
class ScoredForAnalysis:
    dialogues: dict[str, ScoredDialogue]
    record_ratings: list[Rating]           # dialogue-level ratings found in the records
    missing_in_records: dict[str, int]     # rating name -> records without a value for it
    counts: Counts


@dataclass
class AnalysisResult:
    result: dict                            # what the .json output holds
    warnings: list[str]                     # also in `result`; the CLI prints them on stderr


def _count_reads(counts: Counts, stats: ReadStats) -> None:
    """The reader's record counts into the run's counts."""
    counts.records_read = stats.records_read
    for reason, n in stats.records_skipped.items():
        counts.records_skipped[reason] = counts.records_skipped.get(reason, 0) + n


def score_for_analysis(scorer: Scorer, inputs: list[str], options: ReaderOptions,
                       on_dialogue: ProgressCallback | None = None) -> ScoredForAnalysis:
    """Score `inputs` as `score_files` does, keeping of each dialogue what `analyze` needs: its scored
    turns, the words of its turns (reply length) and the ratings its record carries
    (`options.record_ratings`)."""
    stats, counts = ReadStats(), Counts()
    read: dict[str, tuple[dict[int, int], int]] = {}
    found = ScoredForAnalysis({}, [], {}, counts)

    def remembered(dialogues: Iterator[Dialogue]) -> Iterator[Dialogue]:
        for dialogue in dialogues:
            if dialogue.dialogue_id not in read:       # a duplicate id is refused or skipped later
                read[dialogue.dialogue_id] = ({t.index: len(t.text.split()) for t in dialogue.turns},
                                              dialogue.turns_read)
                for name, value in dialogue.meta.get("ratings", {}).items():
                    if value is None:
                        found.missing_in_records[name] = found.missing_in_records.get(name, 0) + 1
                    else:
                        found.record_ratings.append(Rating(dialogue.dialogue_id, None, name, value,
                                                           dialogue.source or dialogue.dialogue_id))
            yield dialogue
    dialogues = remembered(read_path_list(inputs, options, stats))
    for scored in scorer.iter_scores(dialogues, counts, options.on_error):
        words, turns_read = read[scored.dialogue_id]
        found.dialogues[scored.dialogue_id] = ScoredDialogue(scored.dialogue_id, scored.utterances,
                                                             scored.metrics, words, turns_read)
        if on_dialogue:
            on_dialogue(stats.records_read, len(found.dialogues), counts.turns_scored)
    _count_reads(counts, stats)
    return found


def relate_ratings(scorer: Scorer, scored: ScoredForAnalysis, ratings: list[Rating], high: dict[str, float],
                   bootstrap: BootstrapSettings | None = None, sources: dict[str, str] | None = None) -> dict:
    """Every rating (split by level: dialogue or turn) against every metric, and its intent table
    (reporting/analysis.py), with how its values matched the scored data (reporting/rated_units.py)."""
    names = metric_names(scorer.tasks, scorer.perceived)
    kinds = intents(scorer.tasks)
    by_rating: dict[tuple[str, str], list[Rating]] = {}
    for rating in ratings:
        by_rating.setdefault((rating.name, "dialogue" if rating.turn_index is None else "turn"), []).append(rating)
    analyses, warnings = [], []
    for (name, level), values in by_rating.items():
        units, matching = rated_units(values, scored.dialogues, scorer.tasks, scorer.perceived, names)
        entry = {"rating": name, "level": level, "source": (sources or {}).get(name, "ratings file"),
                 "matching": matching.to_dict()}
        if name in scored.missing_in_records:
            entry["matching"]["missing_in_records"] = scored.missing_in_records[name]
        rated = {r.dialogue_id for r in values} & scored.dialogues.keys()
        entry["scored_dialogues_without_rating"] = len(scored.dialogues) - len(rated)
        found = []
        if units is None:
            found.append("no rating matched a scored dialogue or turn")
        else:
            entry.update(analyze_rating(units, names, [n for n, _, _ in kinds], high.get(name, high.get("")),
                                        bootstrap))
            for row, (_, task, label) in zip(entry["intents"], kinds):
                row.update(task=task.name, label=label)
            found += entry.pop("warnings")
        found += [m for m in (matching.describe(),) if m]
        entry["warnings"] = found
        warnings += [f"rating '{name}' ({level} level): {w}" for w in found]
        analyses.append(entry)
    if analyses and all("agreement" not in a for a in analyses):
        sample = next(iter(scored.dialogues), None)
        raise InputError("no rating matches a scored dialogue or turn (rating ids look like "
                         f"'{ratings[0].dialogue_id}', scored dialogue ids like '{sample}'; records without "
                         "an id are named FILE:LINE, with FILE as given on the command line)")
    return {"analyses": analyses, "warnings": warnings}


def analyze_files(scorer: Scorer, inputs: list[str], options: ReaderOptions, ratings: RatingsRequest,
                  outputs: list[str] = (), bootstrap: BootstrapSettings | None = None,
                  on_dialogue: ProgressCallback | None = None) -> AnalysisResult:
    """Relate human ratings to the metrics: read the ratings (a bad line fails before any scoring),
    score `inputs`, match, compute (reporting/analysis.py), write `outputs` (.json, .md)."""
    from .reporting.analysis_markdown import analysis_markdown
    kinds = [analyze_output_kind(path) for path in outputs]
    check_output_paths(list(inputs) + ([ratings.path] if ratings.path else []), list(outputs))
    side = read_ratings(ratings.path, ratings.options) if ratings.path else None
    carried = {r.name for r in ratings.record_ratings}
    clash = sorted(carried & set(side.columns if side else ()))
    if clash:
        raise UsageError(f"rating '{clash[0]}' is both a --record-rating and a column of {ratings.path}: "
                         "name the record rating otherwise (NAME=PATH)")
    options = replace(options, record_ratings=ratings.record_ratings)
    scored = score_for_analysis(scorer, inputs, options, on_dialogue)
    sources = {r.name: f"records: {r.path}" for r in ratings.record_ratings}
    related = relate_ratings(scorer, scored, scored.record_ratings + (side.ratings if side else []),
                             ratings.high, bootstrap, sources)
    result = {"signature": scorer.bundle.signature(), "settings": scorer.settings(), "inputs": list(inputs),
              "counts": scored.counts.to_dict(), "ratings_file": side.to_dict() if side else None,
              "record_ratings": [{"name": r.name, "path": r.path} for r in ratings.record_ratings],
              "bootstrap": bootstrap.to_dict() if bootstrap else {"unit": "dialogue", "n_resamples": 0},
              **related}
    for path, kind in zip(outputs, kinds):
        if kind == "json":
            write_json(path, result)
        elif kind == "md":
            write_text(path, analysis_markdown(result))
        else:
            from .reporting.html_report import analysis_report
            write_text(path, analysis_report(result))
    return AnalysisResult(result=result, warnings=related["warnings"])
