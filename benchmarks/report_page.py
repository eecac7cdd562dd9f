"""The HTML report of a scoring run: its size, what it adds to the run, and how fast headless Chromium
opens it. Needs the [report] extra and Debian's `chromium`.

    # 200 dialogues made from ESConv (make_dialogues.py), or any log with --input
    .venv/bin/python benchmarks/report_page.py --dialogues 200
    .venv/bin/python benchmarks/report_page.py --input ../shared/data/esconv/valid.json
    # the screenshots of docs/report.md (examples/sample_logs.jsonl, the shipped model)
    .venv/bin/python benchmarks/report_page.py --input examples/sample_logs.jsonl --screenshots docs/

What is timed:
- `score INPUT -q -o summary.json` against the same with `-o report.html`: the report's cost (both
  runs score; their difference is the report). Wall and CPU seconds: a busy machine blurs the wall
  time far more than the CPU time;
- the page in Chromium: a wrapper page loads the report in an iframe and records the time from
  the iframe's start to its `load` event (parse, script, SVG), median of --repeats; and the whole
  `chromium --headless --screenshot` process for the report against a blank page;
- a second report run with the same input and seed must give the same bytes.
The data is research-only: generated inputs are written to a temporary folder.
"""
from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE.parent.parent / "shared" / "data" / "esconv"
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--hide-scrollbars")
# For the screenshot of the dialogues table: only that section, with the first transcript open.
DIALOGUES_ONLY = """<script>
var section = document.getElementById("dialogues");
while (section.previousElementSibling) { section.previousElementSibling.remove(); }
document.querySelector("tbody.dialogue > tr.row").click();
</script>
</body>"""


def chromium(work: Path, *args: str) -> float:
    """Runs chromium; returns its wall time in seconds."""
    start = time.perf_counter()
    subprocess.run(["chromium", *CHROMIUM_FLAGS, f"--user-data-dir={work / 'profile'}", *args],
                   check=True, capture_output=True, timeout=300)
    return time.perf_counter() - start


def iframe_load_ms(work: Path, page: Path) -> float:
    wrapper = work / "wrapper.html"
    wrapper.write_text('<!DOCTYPE html><html><head><title>wait</title><script>var t0 = performance.now();</script>'
                       f'</head><body><iframe src="{page.as_uri()}" onload="document.title = \'loaded \' + '
                       '(performance.now() - t0).toFixed(1)"></iframe></body></html>', encoding="utf-8")
    done = subprocess.run(["chromium", *CHROMIUM_FLAGS, f"--user-data-dir={work / 'profile'}", "--dump-dom",
                           wrapper.as_uri()], check=True, capture_output=True, text=True, timeout=300)
    return float(done.stdout.split("<title>loaded ")[1].split("<")[0])


def score(cli: str, log: Path, outputs: list[Path], seed: int) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system) of one `score` process."""
    args = [cli, "score", str(log), "-q", "--seed", str(seed)]
    for path in outputs:
        args += ["-o", str(path)]
    before, start = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    subprocess.run(args, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.perf_counter() - start, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def screenshots(work: Path, report: Path, folder: Path) -> None:
    opened = work / "opened.html"
    opened.write_text(report.read_text(encoding="utf-8").replace("</body>", DIALOGUES_ONLY), encoding="utf-8")
    chromium(work, f"--screenshot={folder / 'report-top.png'}", "--window-size=1200,1500", report.as_uri())
    chromium(work, f"--screenshot={folder / 'report-dialogues.png'}", "--window-size=1200,1100",
             opened.as_uri())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--input", type=Path, help="a dialogue log (default: --dialogues generated ones)")
    parser.add_argument("--dialogues", type=int, default=200)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--screenshots", type=Path, help="write report-top.png and report-dialogues.png here")
    args = parser.parse_args()
    cli = str(Path(sys.executable).with_name("empathy-score"))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        log = args.input
        if log is None:
            sys.path.insert(0, str(HERE))
            from make_dialogues import write_dialogues
            log = work / "dialogues.jsonl"
            write_dialogues(args.dialogues, log, args.data)
        plain_s, plain_cpu = score(cli, log, [work / "plain.json"], args.seed)
        report_s, report_cpu = score(cli, log, [work / "a.json", work / "report.html"], args.seed)
        score(cli, log, [work / "again.html"], args.seed)
        report = work / "report.html"
        summary = json.loads((work / "a.json").read_text(encoding="utf-8"))
        blank = work / "blank.html"
        blank.write_text("<!DOCTYPE html><html><body></body></html>", encoding="utf-8")
        chromium(work, "--dump-dom", blank.as_uri())                        # a warm profile for both
        loads = [iframe_load_ms(work, report) for _ in range(args.repeats)]
        shot = work / "shot.png"
        page_s = [chromium(work, f"--screenshot={shot}", report.as_uri()) for _ in range(args.repeats)]
        blank_s = [chromium(work, f"--screenshot={shot}", blank.as_uri()) for _ in range(args.repeats)]
        result = {"input": str(args.input or f"{args.dialogues} generated dialogues"),
                  "dialogues": summary["counts"]["dialogues_scored"], "agent_turns": summary["counts"]["turns_scored"],
                  "report_bytes": report.stat().st_size,
                  "byte_identical_rerun": report.read_bytes() == (work / "again.html").read_bytes(),
                  "score_s": round(plain_s, 2), "score_with_report_s": round(report_s, 2),
                  "score_cpu_s": round(plain_cpu, 2), "score_with_report_cpu_s": round(report_cpu, 2),
                  "iframe_load_ms_median": round(statistics.median(loads), 1), "iframe_load_ms": loads,
                  "chromium_screenshot_s_median": round(statistics.median(page_s), 2),
                  "chromium_blank_page_s_median": round(statistics.median(blank_s), 2)}
        if args.screenshots:
            screenshots(work, report, args.screenshots)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    shutil.which("chromium") or sys.exit("needs chromium (apt-get install chromium)")
    main()
