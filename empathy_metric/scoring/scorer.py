"""`Scorer`: a bundle and its backend; chunks of windows -> backend -> decoding -> dialogue scores.
`score(dialogues)` in memory, `iter_scores(...)` streaming one dialogue at a time, `score_windows`
for windows cut elsewhere. Where the chunks run is its `engine` (engine.py)."""
from __future__ import annotations

import contextlib
import functools
import itertools
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterable, Iterator

from ..bundle import Bundle, load_bundle
from ..dialogue import DEFAULT_AGENT_ROLES, Dialogue, normalize_role
from ..errors import InputError, UsageError
from ..io.readers import ReaderOptions
from ..io.readers.records import check_dialogue_iterable, record_to_dialogue
from ..io.writers import ShardFolder
from ..pipeline.accounting import Counts
from ..pipeline.aggregation import DialogueScore, corpus_means, dialogue_score
from ..pipeline.decoding import UtteranceScore, decode
from ..pipeline.encoding import BatchPlan, PreparedWindows
from ..pipeline.parallel import Job, Ready, usable_cores
from ..pipeline.windows import Window, dialogue_windows
from ..runtime import Backend, PreparedBackend, RawOutputs, load_backend
from .chunking import KnownScores, Step, chunk_steps, count_scored
from .cpu_stages import CpuStages
from .engine import Engine, local_engine
from .workers import describe, prepare_in_worker, score_in_worker, start_worker


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
    `engine` says where chunks run (engine.py; `distributed.use_ray` gives the scorer a Ray one).
    With a `stages_recipe` and an engine whose `model_in_parent` (one process per GPU), the workers
    hold only the CPU stages that it builds: they cut and encode windows into batches, this process
    runs them through the model, and they decode, aggregate and render the results."""

    def __init__(self, bundle: Bundle, backend: Backend, agent_roles: frozenset[str] = DEFAULT_AGENT_ROLES,
                 future_context: bool = True, workers: int = 1, recipe: Callable[..., "Scorer"] | None = None,
                 worker_threads: int = 1, engine: Engine | None = None):
        self.bundle = bundle
        self.agent_roles = frozenset(normalize_role(r) for r in agent_roles)
        self.window_settings = bundle.window if future_context else bundle.window.without_future()
        self.backend = backend if future_context else backend.with_settings(self.window_settings)
        self.tasks = bundle.tasks
        self.perceived = bundle.perceived
        self.recipe, self.worker_threads = recipe, worker_threads
        self.stages_recipe: Callable[..., "Scorer"] | None = None
        self.engine = engine or local_engine(workers if recipe is not None else 1)

    @property
    def workers(self) -> int:
        return self.engine.workers

    @classmethod
    def from_pretrained(cls, model: str | None = None, device: str = "cpu", threads: int | None = None,
                        max_batch_tokens: int = 16384, max_batch_size: int = 128,
                        agent_roles: Iterable[str] | None = None, future_context: bool = True,
                        verify: bool = True, workers: int = 1, inference: str = "auto",
                        bytes_per_window: int | None = None) -> "Scorer":
        """`workers` > 1: score in that many processes. `inference` says where the model runs:
        'workers' (each loads it with `threads` // `workers` ONNX Runtime threads, at least one;
        `threads` defaults to the usable cores), 'here' (this process alone holds it, the workers do
        the CPU stages: one process per GPU) or 'auto' ('here' on CUDA, else 'workers'). Backends
        that cannot run batches encoded elsewhere (torch, seq2seq) always run in the workers.
        `bytes_per_window`: input bytes per chunk window in a block read by a worker (engine.py)."""
        if inference not in ("auto", "workers", "here"):
            raise UsageError(f"inference={inference!r}: expected 'auto', 'workers' or 'here'")
        bundle = load_bundle(model, verify=verify)
        backend = load_backend(bundle, device, threads, max_batch_tokens, max_batch_size)
        roles = frozenset(agent_roles) if agent_roles else DEFAULT_AGENT_ROLES
        recipe = functools.partial(cls.from_pretrained, str(bundle.path), device=device,
                                   max_batch_tokens=max_batch_tokens, max_batch_size=max_batch_size,
                                   agent_roles=roles, future_context=future_context, verify=verify)
        here = (inference == "here" or (inference == "auto" and device == "cuda")) \
            and isinstance(backend, PreparedBackend)
        engine = local_engine(workers, model_in_parent=here,
                              **({"bytes_per_window": bytes_per_window} if bytes_per_window else {}))
        scorer = cls(bundle, backend, roles, future_context, workers, recipe,
                     max(1, (threads or usable_cores()) // workers), engine)
        if here:
            scorer.stages_recipe = functools.partial(cls.cpu_stages, str(bundle.path), backend.plan, roles,
                                                     future_context, verify, backend.windows_per_chunk)
        return scorer

    @classmethod
    def cpu_stages(cls, model: str, plan: BatchPlan, agent_roles: frozenset[str], future_context: bool,
                   verify: bool, windows_per_chunk: int, threads: int = 1) -> "Scorer":
        """A scorer without the model, for a worker of a run whose inference is elsewhere: it prepares
        a chunk's batches (`prepare_step`) and decodes their outputs (`score_step(chunk, outputs)`)."""
        bundle = load_bundle(model, verify=verify)
        return cls(bundle, CpuStages(bundle, plan, windows_per_chunk), agent_roles, future_context)

    def run_on(self, engine: Engine) -> None:
        """Score the chunks on `engine` from now on (e.g. a Ray one: distributed.use_ray)."""
        self.engine = engine

    @property
    def worker_recipe(self) -> Callable[..., "Scorer"]:
        """What builds each worker's scorer: the CPU stages when the model runs in this process."""
        return self.stages_recipe if self.engine.model_in_parent else self.recipe

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
            scores += self.decoded(part, self.backend.predict(part))
        return scores

    def decoded(self, windows: list[Window], raw: RawOutputs) -> list[UtteranceScore]:
        return decode(windows, raw.outputs, raw.truncated, self.tasks, self.perceived)

    def iter_scores(self, dialogues: Iterable[Dialogue], counts: Counts, on_error: str = "raise",
                    known: KnownScores | None = None, formats: tuple = (),
                    keep_utterances: bool = True, shards: ShardFolder | None = None) -> Iterator[DialogueScore]:
        """Score dialogues in chunks of windows; yield each dialogue, in input order, when done.
        `counts` is updated as dialogues pass (records_read is the reader's business). A dialogue for
        which `known` returns scores is not run through the model again. With workers, dialogues come
        back with their per-turn text in `formats` (io.writers) rendered, and without `utterances`
        unless `keep_utterances`: unpickling them cost the parent more than writing them. `shards`
        (an engine that `writes_shards`): the pool writes the per-turn records there."""
        steps = self.steps(dialogues, counts, on_error, known)
        with contextlib.ExitStack() as stack:
            if self.engine.uses_pool:
                results = self._in_workers(steps, stack, (tuple(formats), keep_utterances), shards)
            else:
                results = (self.score_step(step) for step in steps)
            for scored in results:
                for dialogue in scored:
                    count_scored(dialogue, counts)
                    yield dialogue
        counts.check()

    def steps(self, dialogues: Iterable[Dialogue], counts: Counts, on_error: str,
              known: KnownScores | None, seen: dict[str, str] | None = None) -> Iterator[Step]:
        """The run's bookkeeping and its cut into chunks (chunking.py)."""
        return chunk_steps(dialogues, counts, on_error, known, self.agent_roles, self.window_settings,
                           self.backend.windows_per_chunk, seen)

    def score_step(self, step: "DialogueScore | list[Dialogue]", outputs: RawOutputs | None = None
                   ) -> list[DialogueScore]:
        """A chunk's dialogue scores; `outputs`: its windows' model outputs, computed elsewhere."""
        if isinstance(step, DialogueScore):
            return [step]
        windows = self.windows_of(step)
        flat = [w for ws in windows for w in ws]
        utterances = self.score_windows(flat) if outputs is None else self.decoded(flat, outputs)
        scored, start = [], 0
        for dialogue, ws in zip(step, windows):
            mine = utterances[start:start + len(ws)]
            start += len(ws)
            scored.append(dialogue_score(dialogue.dialogue_id, mine, self.tasks, self.perceived,
                                         turns=dialogue.turns))
        return scored

    def _in_workers(self, steps: Iterator[Step], stack: contextlib.ExitStack, output: tuple,
                    shards: ShardFolder | None = None) -> Iterator[list[DialogueScore]]:
        """`score_step` on the engine's workers. Without `shards`, the pool starts only when a second
        chunk comes: one chunk is scored here (starting workers would cost more than it saves)."""
        held: list = []
        for step in steps:
            held.append(step)
            if shards is not None or sum(not isinstance(s, DialogueScore) for s in held) == 2:
                break
        else:
            yield from (self.score_step(step) for step in held)
            return
        pool = stack.enter_context(self.engine.pool(start_worker, (self.worker_recipe, self.worker_threads), shards))
        jobs = (Ready([step]) if isinstance(step, DialogueScore) else
                Job((step, *output), number, describe(step[0]), describe(step[-1]))
                for number, step in enumerate(itertools.chain(held, steps), start=1))
        if self.engine.model_in_parent:
            jobs = self._inferred_here(pool.ordered(prepare_in_worker, jobs))
        for job, scored in pool.ordered(score_in_worker, jobs):
            if isinstance(job, Job):                # the turns stayed here: put them back
                for dialogue, score in zip(job.payload[0], scored):
                    score.turns = dialogue.turns
            yield scored

    def _inferred_here(self, prepared: Iterator[tuple[Job | Ready, Any]]) -> Iterator[Job | Ready]:
        """Each chunk's batches, encoded by a worker, run through the model here; the chunk goes back
        to a worker with its outputs, as a job of `score_in_worker`."""
        for job, value in prepared:
            if isinstance(job, Job):
                job = replace(job, payload=(*job.payload, self.backend.run_prepared(value)))
            yield job

    def reads_in_workers(self, paths: list[str], options: ReaderOptions) -> bool:
        """Whether the workers can read these inputs themselves (block_scoring.py)."""
        from ..io.readers.blocks import parsed_in_workers
        return self.engine.reads_blocks and self.workers > 1 and \
            parsed_in_workers(paths, options, self.workers, self.block_bytes)

    @property
    def block_bytes(self) -> int:
        """Bytes of a JSONL input per block (io.readers.BlockCutter): engine.Engine.block_bytes."""
        return self.engine.block_bytes(self.backend.windows_per_chunk)

    def windows_of(self, dialogues: list[Dialogue]) -> list[list[Window]]:
        return [dialogue_windows(d, self.window_settings, self.agent_roles) for d in dialogues]

    def prepare_step(self, dialogues: list[Dialogue]) -> PreparedWindows:
        return self.backend.prepare([w for ws in self.windows_of(dialogues) for w in ws])
