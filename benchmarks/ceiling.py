"""The end-to-end ceiling without the model: everything a CLI run does except inference.

    python benchmarks/ceiling.py --bundle BUNDLE INPUT [--limit N] [--workers N] [--bootstrap 0]

Runs the CLI's scoring function (read -> windows -> tokenise + assemble + pad -> decode -> aggregate
-> write JSONL -> summary) with the bundle's real tokenizer and batching, but with inference replaced
by zeros. The result is the most utterances per second this process could deliver on one core however
fast the GPU, and which stage costs what (main-thread CPU time per stage, from timers wrapped around
each stage's function: a profiler's own overhead would distort these small Python functions).

`--workers N` (N > 1) runs the CPU stages in N worker processes as `--workers` does (each with its
own no-inference scorer): the stage table then covers only what stays in the parent (reading,
bookkeeping, writing, summary), and the utterances per wall-second show how the stages scale.
`--inference here` (with --workers N): the layout of `--device cuda`, one inference process fed by
CPU workers. The workers encode and batch, the parent takes each chunk's batches and hands back its
(zero) outputs: the ceiling of a GPU run whose model side is infinitely fast. With workers, a JSONL
input of more than one block (Scorer.block_bytes) per worker is read by the workers (scoring/block_scoring.py);
`--parent-reads` measures the parent reading it instead.
"""
from __future__ import annotations

import argparse
import functools
import importlib
import inspect
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

# stage -> (module, class or None, function) that the run calls it through
STAGES = {
    "read + parse records": ("empathy_metric.scoring.score_run", None, "read_path_list"),
    "windows": ("empathy_metric.scoring.scorer", None, "dialogue_windows"),
    "tokenise + assemble windows": ("empathy_metric.pipeline.encoding", "WindowEncoder", "encode"),
    "pad batches": ("empathy_metric.pipeline.encoding", None, "pad_batch"),
    "decode (labels, probs)": ("empathy_metric.scoring.scorer", None, "decode"),
    "dialogue metrics": ("empathy_metric.pipeline.aggregation", None, "dialogue_metrics"),
    "write JSONL": ("empathy_metric.io.writers", "TurnWriter", "write_dialogue"),
    "summary (bootstrap)": ("empathy_metric.scoring.run_summary", None, "corpus_table"),
}


def _timed_steps(generator, stage: str, spent: dict):
    while True:
        started = time.thread_time()
        try:
            item = next(generator)
        except StopIteration:
            return
        finally:
            spent[stage] = spent.get(stage, 0.0) + time.thread_time() - started
        yield item


def time_stages(spent: dict) -> None:
    """Wrap each stage's function (a generator: each of its steps) to add up its main-thread CPU."""
    for stage, (module, cls, name) in STAGES.items():
        owner = importlib.import_module(module)
        owner = getattr(owner, cls) if cls else owner
        original = getattr(owner, name)

        def timed(*args, _original=original, _stage=stage, **kwargs):
            if inspect.isgeneratorfunction(_original):
                return _timed_steps(_original(*args, **kwargs), _stage, spent)
            started = time.thread_time()
            try:
                return _original(*args, **kwargs)
            finally:
                spent[_stage] = spent.get(_stage, 0.0) + time.thread_time() - started
        setattr(owner, name, functools.wraps(original)(timed))


class NoInference:
    """The bundle's own backend, with the session call replaced by zeros of the right shapes."""

    def __init__(self, backend):
        self.backend = backend
        # the outputs scores are made of (a fallback bundle's graph also returns its embedding output)
        self.shapes = {o.name: o.shape[1:] for o in backend.session.get_outputs() if o.name in backend.result_names}

    def __getattr__(self, name):
        return getattr(self.backend, name)

    def predict(self, windows):
        from empathy_metric.pipeline.encoding import plan_batches
        truncated = np.zeros(len(windows), dtype=bool)
        for _ in plan_batches(self.backend.encoder, windows, self.backend.plan, truncated):   # tokenise, sort, pad
            pass
        return self.zeros(len(windows), truncated)

    def run_prepared(self, prepared):
        return self.zeros(prepared.count, prepared.truncated)

    def zeros(self, n: int, truncated):
        from empathy_metric.runtime import RawOutputs
        outputs = {name: np.zeros((n, *shape), dtype=np.float32) for name, shape in self.shapes.items()}
        return RawOutputs(outputs=outputs, truncated=truncated)


def no_inference_scorer(bundle: str, threads: int | None = None, workers: int = 1, inference: str = "workers",
                        cuda_plan: bool = False):
    """A Scorer of `bundle` whose inference is replaced by zeros, in this process and in its workers
    (`inference='here'`: workers that encode and batch, the zeros made in this process). `cuda_plan`:
    the chunks and batches the CUDA backend makes (multi-row batches) instead of the CPU backend's."""
    from empathy_metric.api import Scorer
    scorer = Scorer.from_pretrained(bundle, threads=threads, workers=workers, inference=inference)
    if cuda_plan:
        from empathy_metric.pipeline.encoding import BatchPlan
        from empathy_metric.runtime.onnx_encoder import CUDA_SORT_SPAN, CUDA_WINDOWS_PER_CHUNK
        backend = scorer.backend
        backend.plan = BatchPlan(backend.max_batch_tokens, 128, 2, CUDA_SORT_SPAN)
        backend.windows_per_chunk = CUDA_WINDOWS_PER_CHUNK
        if scorer.stages_recipe is not None:      # (model, plan, roles, future context, verify, chunk)
            model, _, roles, future, verify, _ = scorer.stages_recipe.args
            scorer.stages_recipe = functools.partial(Scorer.cpu_stages, model, backend.plan, roles, future, verify,
                                                     CUDA_WINDOWS_PER_CHUNK)
    scorer.backend = NoInference(scorer.backend)
    scorer.recipe = functools.partial(no_inference_scorer, bundle, cuda_plan=cuda_plan)
    return scorer


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("input", type=Path)
    parser.add_argument("--bundle", required=True)
    parser.add_argument("--limit", type=int, help="first N dialogues (lines) of a JSONL input")
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--inference", choices=("workers", "here"), default="workers")
    parser.add_argument("--cuda-plan", action="store_true",
                        help="chunks and batches as the CUDA backend cuts them (rehearses the GPU layout on CPU)")
    parser.add_argument("--parent-reads", action="store_true",
                        help="with --workers N: the parent reads and parses the records (one block per file), "
                             "as before the workers read their own blocks")
    args = parser.parse_args(argv)
    from empathy_metric.io.readers import ReaderOptions
    from empathy_metric.reporting.statistics import BootstrapSettings
    spent: dict[str, float] = {}
    time_stages(spent)
    from empathy_metric.api import score_files
    with tempfile.TemporaryDirectory() as tmp:
        source = args.input
        if args.limit:
            source = Path(tmp) / "input.jsonl"
            with open(args.input, encoding="utf-8") as src, open(source, "w", encoding="utf-8") as dst:
                for number, line in enumerate(src):
                    if number == args.limit:
                        break
                    dst.write(line)
        scorer = no_inference_scorer(args.bundle, workers=args.workers, inference=args.inference,
                                     cuda_plan=args.cuda_plan)
        if args.parent_reads:                           # one block per file
            scorer.run_on(scorer.engine.with_block_size(1 << 40))
        wall, cpu, all_cpu = time.perf_counter(), time.thread_time(), time.process_time()
        result = score_files(scorer, [str(source)], ReaderOptions(), [str(Path(tmp) / "turns.jsonl")],
                             bootstrap=BootstrapSettings(n_resamples=args.bootstrap) if args.bootstrap else None)
        wall, cpu, all_cpu = time.perf_counter() - wall, time.thread_time() - cpu, time.process_time() - all_cpu
    n = result.counts.turns_scored
    print(f"{n} utterances, {result.counts.dialogues_scored} dialogues, --workers {args.workers} "
          f"(inference: {args.inference}): {wall:.1f} s "
          f"wall -> {n / wall:.0f} utterances/s; {cpu:.1f} s main-thread CPU ({all_cpu:.1f} s all threads of "
          f"this process: the tokenizer's own pool) -> {n / cpu:.0f} utterances per main-thread CPU-second")
    print("| stage | CPU s | µs per utterance |\n|---|---:|---:|")
    for stage in STAGES:
        if stage in spent:
            print(f"| {stage} | {spent[stage]:.2f} | {1e6 * spent[stage] / n:.1f} |")
    rest = cpu - sum(spent.values())
    print(f"| everything else | {rest:.2f} | {1e6 * rest / n:.1f} |")
    json.dump({"utterances": n, "workers": args.workers, "wall_s": wall, "cpu_s": cpu, "all_threads_cpu_s": all_cpu,
               "stages_cpu_s": spent}, sys.stderr)
    print(file=sys.stderr)


if __name__ == "__main__":
    main()
