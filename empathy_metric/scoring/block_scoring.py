"""`--workers` over JSONL files that the workers read themselves (io/readers/blocks.py).

Each worker takes a block of bytes and does what one process does with those records (parse, count,
cut chunks, score, render the per-turn text) and returns the scored dialogues with the block's counts,
read stats and dialogue ids. The parent merges blocks in input order, checks dialogue ids across
blocks and keeps the summary's rows: the same bytes, counts and errors as one process.

- A dialogue id met in an earlier block: with on_error 'raise', the error one process gives; with
  'skip', the block is scored again without those records (one process never puts them in a chunk).
- A bad record (on_error 'raise') stops the run before any dialogue of its block is written.
- `inference='here'` (one process per GPU): a worker parses the block and pads each chunk's batches,
  this process runs them, and a worker parses the block again to decode: only bytes and arrays pass
  through this process.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterator

from ..errors import InputError
from ..io.readers import ReaderOptions, ReadStats
from ..io.readers.blocks import RawBlock, block_dialogues, blocks_of
from ..pipeline.accounting import Counts
from ..pipeline.aggregation import DialogueScore
from ..pipeline.encoding import PreparedWindows
from ..pipeline.parallel import Job
from ..runtime import RawOutputs
from .chunking import count_duplicates, count_scored, duplicate_id_error
from .scorer import Scorer
from .workers import for_parent, start_worker, worker_scorer


@dataclass
class BlockJob:
    block: RawBlock
    options: ReaderOptions
    formats: tuple                          # per-turn text to render (io.writers formats)
    keep_utterances: bool                   # the parent needs turns and utterances (transcripts)
    excluded: frozenset[int] = frozenset()  # lines of records whose id an earlier block holds
    inferred: list[RawOutputs] | None = None   # each chunk's model outputs, run in the parent


@dataclass
class BlockResult:
    scored: list[DialogueScore]
    ids: dict[str, str]          # dialogue id -> FILE:LINE, every record that reached the bookkeeping
    counts: Counts
    stats: ReadStats
    error: InputError | None = None        # the bad record that ended the block (on_error 'raise')
    prepared: list[PreparedWindows] | None = None


def score_block(scorer: Scorer, job: BlockJob, prepare_only: bool = False) -> BlockResult:
    """In a worker: the block's records, as one process reads and scores them (or, `prepare_only`,
    each chunk's padded batches for the model process)."""
    stats, counts, ids = ReadStats(), Counts(), {}
    result = BlockResult([], ids, counts, stats, prepared=[] if prepare_only else None)
    dialogues = (d for d in block_dialogues(job.block, job.options, stats) if _line(d.source) not in job.excluded)
    inferred = iter(job.inferred) if job.inferred is not None else None
    try:
        for step in scorer.steps(dialogues, counts, job.options.on_error, None, ids):
            if prepare_only:
                result.prepared.append(scorer.prepare_step(step))
                continue
            for score in scorer.score_step(step, None if inferred is None else next(inferred)):
                count_scored(score, counts)
                result.scored.append(for_parent(score, job.formats, job.keep_utterances, keep_turns=True))
    except InputError as exc:
        result.error = exc
    return result


def _line(source: str) -> int:
    return int(source.rsplit(":", 1)[1])


def _score_block_in_worker(job: BlockJob) -> BlockResult:
    return score_block(worker_scorer(), job)


def _prepare_block_in_worker(job: BlockJob) -> BlockResult:
    return score_block(worker_scorer(), job, prepare_only=True)


def iter_block_scores(scorer: Scorer, paths: list[str], options: ReaderOptions, stats: ReadStats, counts: Counts,
                      formats: tuple, keep_utterances: bool) -> Iterator[DialogueScore]:
    """Scorer.iter_scores over `paths` (io.readers.blocks.parsed_in_workers said yes), the records read
    in the workers; `stats` and `counts` are filled in as blocks are merged."""
    here = scorer.engine.model_in_parent
    seen: dict[str, str] = {}
    with scorer.engine.pool(start_worker, (scorer.worker_recipe, scorer.worker_threads)) as pool:
        jobs = (Job(BlockJob(block, options, formats, keep_utterances), number,
                    f"{block.name}:{block.first_line}", f"{block.name}:{block.last_line}")
                for number, block in enumerate(blocks_of(paths, scorer.block_bytes, options.max_record_bytes), start=1))
        if here:
            jobs = (replace(job, payload=_with_outputs(scorer, job.payload, prepared))
                    for job, prepared in pool.ordered(_prepare_block_in_worker, jobs))
        for job, result in pool.ordered(_score_block_in_worker, jobs):
            result = _without_repeated_ids(scorer, pool, job, result, seen, counts, here)
            if result.error is not None:
                raise result.error
            seen.update(result.ids)
            stats.add(result.stats)
            counts.add(result.counts)
            yield from result.scored
    counts.check()


def _with_outputs(scorer: Scorer, job: BlockJob, prepared: BlockResult) -> BlockJob:
    return replace(job, inferred=[scorer.backend.run_prepared(p) for p in prepared.prepared])


def _without_repeated_ids(scorer: Scorer, pool, job: Job, result: BlockResult,
                          seen: dict[str, str], counts: Counts, here: bool) -> BlockResult:
    """The block's result once ids met in earlier blocks are dealt with as one process deals with them:
    the first is an error (on_error 'raise'), or the records are skipped and counted and the block is
    scored again without them (until none is left: leaving one out may let a later copy in)."""
    while repeated := [i for i in result.ids if i in seen]:
        if job.payload.options.on_error != "skip":
            first = repeated[0]
            raise duplicate_id_error(first, seen[first], result.ids[first])
        count_duplicates(counts, len(repeated))
        payload = job.payload
        job = replace(job, payload=replace(payload, excluded=payload.excluded | {_line(result.ids[i]) for i in repeated},
                                           inferred=None))
        if here:
            job = replace(job, payload=_with_outputs(scorer, job.payload, pool.run_now(_prepare_block_in_worker, job)))
        result = pool.run_now(_score_block_in_worker, job)
    return result
