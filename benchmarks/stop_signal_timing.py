"""Seconds from a stop signal to the exit of `empathy-score score LOGS -q --workers 2 -o t.jsonl`.

    python benchmarks/stop_signal_timing.py FOLDER SUFFIX ROUNDS

FOLDER holds logs.jsonl (e.g. tests/test_resume.py's make_logs(FOLDER/logs.jsonl, 3000, seed=9));
SUFFIX is the file that shows the run has written records: ".partial" (t.jsonl.partial, since issue
33) or "" (t.jsonl itself, before). SIGINT, then SIGTERM, ROUNDS times each, sent 1 s after the
first records, when both workers are busy with a chunk. Run with PYTHONPATH at the checkout to time.
"""
import signal
import subprocess
import sys
import time
from pathlib import Path


def main(folder: Path, suffix: str, rounds: int) -> None:
    logs, out = folder / "logs.jsonl", folder / "t.jsonl"
    for signum in (signal.SIGINT, signal.SIGTERM):
        for _ in range(rounds):
            for path in (out, Path(f"{out}.partial")):
                path.unlink(missing_ok=True)
            process = subprocess.Popen([sys.executable, "-m", "empathy_metric.cli.main", "score", str(logs), "-q",
                                        "--workers", "2", "-o", str(out)], stderr=subprocess.PIPE,
                                       preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
            watched = Path(f"{out}{suffix}")
            while not (watched.exists() and watched.stat().st_size > 0) and process.poll() is None:
                time.sleep(0.01)
            time.sleep(1.0)
            start = time.monotonic()
            process.send_signal(signum)
            code = process.wait()
            print(signal.Signals(signum).name, "exit", code, "seconds", round(time.monotonic() - start, 2),
                  "stderr", repr(process.stderr.read().decode()[-160:]), flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]))
