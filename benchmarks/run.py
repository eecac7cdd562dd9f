"""Speed benchmark: one trained checkpoint, one input, every way of running it, in one invocation.

    .venv/bin/python benchmarks/run.py --checkpoint runs/minilm-ce [--fast-checkpoint runs/fast]
        [--input FILE] [--limit N] [--threads N] [--device cpu|cuda] [--work-dir DIR] [--repeat N]
        [--out-md FILE] [--out-json FILE]

Variants (each in its own process, one after the other, so that peak RSS is honest):
  CPU:  torch-eager (baseline: fp32, batch 32 in input order, padded to the longest in the batch),
        ort-fp32, ort-opt (ORT transformer optimizer), ort-int8 (the project's export path),
        ort-int8-fb (and its float fallback for near-tie labels, export --fallback-margin),
        cli (`empathy-score score FILE -m <int8 bundle> -o out.jsonl -q`, process start to files written),
        cli-fb (the same with the int8 + fallback bundle),
        cli-opt (the same with the optimised fp32 bundle: the fallback if int8 quality does not hold).
  CUDA: torch-eager (fp32, batch 32), torch-fp16 (batch 32), ort-cuda-fp32, ort-cuda-fp16 (I/O binding),
        cli (--device cuda, fp16 graph).
  --fast-checkpoint (CPU): a smaller student of the same tasks, as fast-torch-eager, fast-ort-int8,
        fast-cli, fast-ort-int8-fb and fast-cli-fb; its speed is against the same torch-eager baseline (the default model in PyTorch).
Bundles are exported into the work folder by the project's export code (reused when the checkpoint
has not changed). Agreement is with the labels of the fp32 PyTorch model of the same checkpoint, per
task (the table shows the lowest task); macro-F1 is the paper's ESConv-strategy score
(training/metrics.py) against the gold strategies in the input; perceived r is the Pearson r of
`perceived.empathy` with WASSA 2023 dev turns' third-party ratings (untimed; a CLI row shows its
bundle's). See BENCHMARKS.md.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from exports import FALLBACK_MARGIN  # noqa: E402
from machine import describe  # noqa: E402
from report import markdown, summarise  # noqa: E402

DEFAULT_INPUT = REPO.parent / "shared" / "data" / "esconv" / "valid.json"
DEFAULT_WASSA = REPO.parent / "shared" / "data" / "wassa23"
FAST = "fast-"                 # name prefix of the student's variants
VALIDATION_WINDOWS = 64      # windows each export is validated on against torch (parity in its manifest)


@dataclass
class Variant:
    name: str
    kind: str                      # torch | ort | cli
    what: str
    export: str | None = None      # bundle from exports.EXPORTS
    device: str = "cpu"
    extra: list[str] = field(default_factory=list)
    fast: bool = False             # the --fast-checkpoint student, not the default model


def fast_variants(baseline_batch: int) -> list[Variant]:
    return [
        Variant(f"{FAST}torch-eager", "torch", f"student in PyTorch eager fp32, batch {baseline_batch}, input order",
                extra=["--batch-size", str(baseline_batch)], fast=True),
        Variant(f"{FAST}ort-int8", "ort", "student, ORT smoothed dynamic int8", "ort-int8", fast=True),
        Variant(f"{FAST}cli", "cli", "empathy-score CLI end to end (student int8 bundle)", "ort-int8", fast=True),
        Variant(f"{FAST}ort-int8-fb", "ort", "student, int8 + float fallback for near ties", "ort-int8-fb", fast=True),
        Variant(f"{FAST}cli-fb", "cli", "empathy-score CLI end to end (student int8 + fallback bundle)",
                "ort-int8-fb", fast=True),
    ]


def variants_for(device: str, baseline_batch: int) -> list[Variant]:
    if device == "cuda":
        return [
            Variant("torch-eager", "torch", f"PyTorch eager fp32, batch {baseline_batch}, input order",
                    device="cuda", extra=["--batch-size", str(baseline_batch)]),
            Variant("torch-fp16", "torch", f"PyTorch eager fp16, batch {baseline_batch}, input order",
                    device="cuda", extra=["--batch-size", str(baseline_batch), "--dtype", "fp16"]),
            Variant("ort-cuda-fp32", "ort", "ORT CUDA, optimised fp32 graph", "ort-opt", "cuda"),
            Variant("ort-cuda-fp16", "ort", "ORT CUDA, fp16 graph, I/O binding", "ort-fp16", "cuda"),
            Variant("cli", "cli", "empathy-score --device cuda, end to end (fp16 graph)", "ort-fp16", "cuda"),
        ]
    return [
        Variant("torch-eager", "torch", f"PyTorch eager fp32, batch {baseline_batch}, input order",
                extra=["--batch-size", str(baseline_batch)]),
        Variant("ort-fp32", "ort", "ORT fp32 (plain export), project batching", "ort-fp32"),
        Variant("ort-opt", "ort", "ORT fp32 + transformer optimizer", "ort-opt"),
        Variant("ort-int8", "ort", "ORT smoothed dynamic int8", "ort-int8"),
        Variant("ort-int8-fb", "ort", "int8 + float fallback for near ties", "ort-int8-fb"),
        Variant("cli", "cli", "empathy-score CLI end to end (int8 bundle)", "ort-int8"),
        Variant("cli-fb", "cli", "empathy-score CLI end to end (int8 + fallback bundle)", "ort-int8-fb"),
        Variant("cli-opt", "cli", "empathy-score CLI end to end (optimised fp32 bundle)", "ort-opt"),
    ]


def run_child(cmd: list[str], log_path: Path, env=None) -> dict:
    """Run one process to its end; wall time and its own peak RSS (wait4 gives that child's rusage;
    Linux counts the parent's RSS at fork time in it, which is why this process stays small)."""
    started = time.perf_counter()
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=REPO)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        tail = log_path.read_text(errors="replace")[-3000:]
        raise SystemExit(f"{' '.join(cmd)}\nexited with {proc.returncode}; log {log_path}:\n{tail}")
    return {"wall_s": wall, "peak_rss_mib": usage.ru_maxrss / 1024,   # Linux: ru_maxrss is in KiB
            "cpu_s": usage.ru_utime + usage.ru_stime}


def read_cli_output(path: Path) -> dict:
    keys, gold, labels = [], [], {}
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            keys.append([record["dialogue_id"], record["turn_index"]])
            gold.append(record.get("gold", {}).get("strategy"))
            for task, label in record["labels"].items():
                labels.setdefault(task, []).append(label)
    return {"keys": keys, "gold": gold, "label_names": labels, "n_utterances": len(keys)}


def prepare_input(path: Path, limit: int | None, work: Path) -> Path:
    """With --limit, the first N dialogues (lines) of a JSONL file, so that every variant reads the same."""
    if not limit:
        return path
    out = work / f"input.first{limit}.jsonl"
    with open(path, encoding="utf-8") as src, open(out, "w", encoding="utf-8") as dst:
        kept = 0
        for line in src:
            if line.strip():
                dst.write(line)
                kept += 1
                if kept == limit:
                    break
    return out


def cli_command(variant: Variant, bundle: Path, input_path: Path, out: Path, args) -> list[str]:
    exe = Path(sys.executable).parent / "empathy-score"
    program = [str(exe)] if exe.exists() else [sys.executable, "-m", "empathy_metric.cli.main"]
    cmd = [*program, "score", str(input_path), "-m", str(bundle),
           "-o", str(out), "-q", "--threads", str(args.threads)]
    if variant.device == "cuda":
        cmd += ["--device", "cuda", "--max-batch-tokens", str(args.gpu_batch_tokens),
                "--batch-size", str(args.gpu_batch_size)]
    return cmd


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", required=True, type=Path,
                        help="trained checkpoint folder (empathy_config.json, encoder/, heads.safetensors, tokenizer.json)")
    parser.add_argument("--fast-checkpoint", type=Path,
                        help="a smaller student's checkpoint: also run it (fast-* variants, CPU only)")
    parser.add_argument("--input", type=Path, default=DEFAULT_INPUT, help="dialogue file (default: ESConv valid.json)")
    parser.add_argument("--wassa", type=Path, default=DEFAULT_WASSA,
                        help="WASSA 2023 folder for the perceived r column (skipped where it is missing)")
    parser.add_argument("--limit", type=int, help="only the first N dialogues of a JSONL input")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--baseline-batch", type=int, default=32)
    parser.add_argument("--gpu-batch-tokens", type=int, default=262144)
    parser.add_argument("--gpu-batch-size", type=int, default=2048)
    parser.add_argument("--only", help="comma-separated variant names to run (default: all)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="rounds of every variant, interleaved; times are the medians (default: 1)")
    parser.add_argument("--fallback-margin", type=float, default=FALLBACK_MARGIN,
                        help="the float fallback's margin of the *-fb variants (default: -m fast's)")
    parser.add_argument("--work-dir", type=Path, help="keep exports and outputs here (default: a temporary folder)")
    parser.add_argument("--bundles", type=Path, help="use bundles exported earlier (DIR/<variant export name>) "
                                                     "instead of exporting (e.g. on a GPU machine without the export stack); "
                                                     "the student's under DIR/fast/")
    parser.add_argument("--out-md", type=Path, help="also write the markdown table here")
    parser.add_argument("--out-json", type=Path, help="also write every number here")
    parser.add_argument("--note", default="", help="a line printed above the table (e.g. 'STAND-IN model')")
    args = parser.parse_args(argv)

    temp = None
    if args.work_dir is None:
        temp = tempfile.TemporaryDirectory(prefix="empathy-bench-")
        args.work_dir = Path(temp.name)
    work = args.work_dir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    checkpoint = args.checkpoint.resolve()
    machine = describe()
    input_path = prepare_input(args.input.resolve(), args.limit, work)
    variants = variants_for(args.device, args.baseline_batch)
    if args.fast_checkpoint and args.device == "cpu":
        variants += fast_variants(args.baseline_batch)
    if args.only:
        wanted = set(args.only.split(","))
        variants = [v for v in variants if v.name in wanted]

    checkpoints = {False: checkpoint, True: args.fast_checkpoint.resolve() if args.fast_checkpoint else None}
    bundles = {}                   # (fast, export name) -> bundle folder
    for fast, source in checkpoints.items():
        exports = list(dict.fromkeys(v.export for v in variants if v.export and v.fast == fast))
        folder = work / ("bundles-fast" if fast else "bundles")
        if args.bundles:
            given = args.bundles.resolve() / ("fast" if fast else "")
            bundles.update({(fast, name): given / name for name in exports})
            continue
        bundles.update({(fast, name): folder / name for name in exports})
        if exports:   # in a process of its own: this one stays small, so children's RSS stays theirs
            started = time.perf_counter()
            subprocess.run([sys.executable, str(HERE / "exports.py"), "--checkpoint", str(source),
                            "--input", str(input_path), "--windows", str(VALIDATION_WINDOWS),
                            "--work-dir", str(folder), "--fallback-margin", str(args.fallback_margin), *exports],
                           check=True, cwd=REPO, stdout=sys.stderr)
            print(f"[export] {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)

    results, rounds = {}, {}
    # --repeat: every variant once per round, rounds one after the other (interleaved), so that a
    # slow spell of a shared machine falls on all of them; the table shows each variant's median.
    for v in [v for _ in range(args.repeat) for v in variants]:
        print(f"[run] {v.name}: {v.what} ...", file=sys.stderr, flush=True)
        out = work / f"{v.name}.result.json"
        if v.kind == "cli":
            turns = work / f"{v.name}.turns.jsonl"
            child = run_child(cli_command(v, bundles[v.fast, v.export], input_path, turns, args),
                              work / f"{v.name}.log")
            result = {**read_cli_output(turns), "seconds": child["wall_s"]}
        else:
            worker = [sys.executable, str(HERE / "worker.py"), v.kind, "--input", str(input_path),
                      "--out", str(out), "--device", v.device, "--threads", str(args.threads), *v.extra]
            worker += ["--checkpoint", str(checkpoints[v.fast])] if v.kind == "torch" \
                else ["--bundle", str(bundles[v.fast, v.export])]
            if v.kind == "ort" and v.device == "cuda":
                worker += ["--max-batch-tokens", str(args.gpu_batch_tokens), "--max-batch-size", str(args.gpu_batch_size)]
            if args.wassa and args.wassa.is_dir():
                worker += ["--wassa", str(args.wassa)]
            child = run_child(worker, work / f"{v.name}.log")
            result = json.loads(out.read_text())
        result.update(child)
        results[v.name] = result
        rounds.setdefault(v.name, []).append(result["seconds"])
        print(f"[run] {v.name}: {result['n_utterances']} utterances in {result['seconds']:.1f} s "
              f"(process {child['wall_s']:.1f} s, peak RSS {child['peak_rss_mib']:.0f} MiB)",
              file=sys.stderr, flush=True)

    for name, seconds in rounds.items():
        results[name]["seconds_runs"] = seconds
        results[name]["seconds"] = statistics.median(seconds)
    tasks = json.loads((checkpoint / "empathy_config.json").read_text())["tasks"]
    rows = summarise(variants, results, tasks)
    command = " ".join([Path(sys.executable).name, "benchmarks/run.py", *(argv if argv is not None else sys.argv[1:])])
    report = {"command": command, "note": args.note, "checkpoint": str(checkpoint), "input": str(args.input),
              "limit": args.limit, "threads": args.threads, "device": args.device, "machine": machine,
              "machine_load_after": list(os.getloadavg()), "rows": rows,
              "date": time.strftime("%Y-%m-%d %H:%M:%S %Z")}
    table = markdown(report)
    print(table)
    if args.out_md:
        args.out_md.write_text(table + "\n", encoding="utf-8")
    if args.out_json:
        args.out_json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    if temp is not None:
        temp.cleanup()


if __name__ == "__main__":
    main()
