"""Memory of the CLI on large inputs: RSS sampled over time, for inputs of different sizes.

    # stream: run the CLI on each input for at most SECONDS, sampling its RSS (/proc) as it goes
    python benchmarks/memory.py stream --bundle BUNDLE /tmp/gen10k.jsonl /tmp/gen100k.jsonl --seconds 300
    # the end of a run: the summary (per-dialogue rows, bootstrap CIs, summary JSON) for N dialogues
    python benchmarks/memory.py summary 100000

Scoring streams (read -> score -> write one chunk of windows at a time), so RSS must not depend on
the input's size: the same budget on a 10k and a 100k-dialogue file must give the same curve. What
a run keeps until its end is one small metrics row per dialogue, for the summary; `summary` measures
that part for N dialogues directly, since on 2 CPU cores scoring 100k dialogues takes hours.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _status_kib(pid: int, field: str) -> int | None:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _lines(path: Path, state: dict) -> int:
    """Lines written so far, reading only what was appended since the last call."""
    try:
        with open(path, "rb") as handle:
            handle.seek(state.get("offset", 0))
            chunk = handle.read()
    except OSError:
        return state.get("lines", 0)
    state["offset"] = state.get("offset", 0) + len(chunk)
    state["lines"] = state.get("lines", 0) + chunk.count(b"\n")
    return state["lines"]


def cli_command() -> list[str]:
    exe = Path(sys.executable).parent / "empathy-score"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "empathy_metric.cli.main"]


def stream(input_path: Path, bundle: str, seconds: float, threads: int, work: Path, interval: float) -> dict:
    out = work / f"{input_path.stem}.turns.jsonl"
    cmd = [*cli_command(), "score", str(input_path), "-m", bundle, "-o", str(out), "-q",
           "--threads", str(threads)]
    log = work / f"{input_path.stem}.log"
    started = time.perf_counter()
    with open(log, "w") as stderr:
        proc = subprocess.Popen(cmd, stderr=stderr)
    samples, state, stopped = [], {}, False
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)     # wait4: the child's own peak RSS
        if pid:
            break
        elapsed = time.perf_counter() - started
        rss = _status_kib(proc.pid, "VmRSS")
        if rss is not None:
            samples.append({"t": round(elapsed, 2), "rss_mib": round(rss / 1024, 1),
                            "utterances": _lines(out, state)})
        if elapsed >= seconds and not stopped:
            proc.send_signal(signal.SIGTERM)    # whole dialogues are on disk: each is flushed
            stopped = True
        time.sleep(interval)
    wall = time.perf_counter() - started
    done = _lines(out, state)
    peak = usage.ru_maxrss / 1024
    late = [s for s in samples if s["t"] >= wall / 2]
    growth = None
    if len(late) >= 2 and late[-1]["utterances"] > late[0]["utterances"]:
        growth = ((late[-1]["rss_mib"] - late[0]["rss_mib"])
                  / (late[-1]["utterances"] - late[0]["utterances"]) * 10000)
    return {"input": str(input_path), "input_mib": round(input_path.stat().st_size / 2**20, 1),
            "stopped_after_s": seconds if stopped else None, "finished": not stopped,
            "wall_s": round(wall, 1), "utterances_written": done, "utterances_per_s": round(done / wall, 1),
            "peak_rss_mib": round(peak, 1), "rss_growth_mib_per_10k_utterances_second_half": growth,
            "exit_code": os.waitstatus_to_exitcode(status), "samples": samples,
            "stderr_tail": log.read_text(errors="replace")[-500:]}


def summary_only(n: int) -> dict:
    """The end of a CLI run for n dialogues: rows -> corpus table with bootstrap -> summary JSON."""
    import tempfile

    import numpy as np

    from empathy_metric.io.writers import write_json
    from empathy_metric.pipeline.aggregation import metric_names
    from empathy_metric.reporting.statistics import BootstrapSettings
    from empathy_metric.reporting.summary import DialogueRow, build_summary, corpus_table
    from empathy_metric.schemas import DEFAULT_TASKS, PERCEIVED_DIMENSIONS
    names = metric_names(list(DEFAULT_TASKS), list(PERCEIVED_DIMENSIONS))
    rng = np.random.default_rng(0)
    before = _status_kib(os.getpid(), "VmRSS") / 1024
    started = time.perf_counter()
    rows = [DialogueRow(f"gen-{i:07d}", 15, dict(zip(names, rng.random(len(names)).tolist()))) for i in range(n)]
    rows_mib = _status_kib(os.getpid(), "VmRSS") / 1024 - before
    table = corpus_table(rows, BootstrapSettings())
    summary = build_summary({}, {}, [], {}, table, rows)
    with tempfile.TemporaryDirectory() as tmp:
        write_json(str(Path(tmp) / "summary.json"), summary)
    return {"dialogues": n, "metrics": len(names), "rss_before_mib": round(before, 1),
            "rows_mib": round(rows_mib, 1), "peak_rss_mib": round(_status_kib(os.getpid(), "VmHWM") / 1024, 1),
            "seconds": round(time.perf_counter() - started, 1)}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="mode", required=True)
    s = sub.add_parser("stream")
    s.add_argument("inputs", nargs="+", type=Path)
    s.add_argument("--bundle", required=True)
    s.add_argument("--seconds", type=float, default=300)
    s.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    s.add_argument("--interval", type=float, default=1.0)
    s.add_argument("--work-dir", type=Path, default=Path("/tmp/empathy-memory"))
    s.add_argument("--out-json", type=Path)
    m = sub.add_parser("summary")
    m.add_argument("n", type=int)
    args = parser.parse_args(argv)
    if args.mode == "summary":
        print(json.dumps(summary_only(args.n)))
        return
    args.work_dir.mkdir(parents=True, exist_ok=True)
    results = [stream(p, args.bundle, args.seconds, args.threads, args.work_dir, args.interval) for p in args.inputs]
    print("| input | size (MiB) | ran (s) | utterances written | peak RSS (MiB) | RSS growth, 2nd half (MiB per 10k utterances) |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in results:
        growth = r["rss_growth_mib_per_10k_utterances_second_half"]
        print(f"| {Path(r['input']).name} | {r['input_mib']} | {r['wall_s']} | {r['utterances_written']} "
              f"| {r['peak_rss_mib']} | {'n/a' if growth is None else f'{growth:.1f}'} |")
    if args.out_json:
        args.out_json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
