"""Outputs people read: the self-contained HTML reports of `score` and `compare`, the Markdown
summary, the terminal tables at 80 columns, the per-turn text of --include-text, progress, and the
bad-input contract (an unknown -o, or a report without its extra: exit 2 before any scoring)."""
import csv
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import SAMPLE
from empathy_metric.cli.main import cli

pytestmark = pytest.mark.scoring

HAS_REPORT_EXTRA = all(__import__("importlib").util.find_spec(m) for m in ("jinja2", "matplotlib"))
needs_report = pytest.mark.skipif(not HAS_REPORT_EXTRA, reason="the [report] extra (jinja2, matplotlib)")
SAMPLE_RECORDS = [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines() if line.strip()]
EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//|url\(\s*["']?\s*(?:https?:)?//|@import""", re.I)


def run(*args, env=None):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False, env=env)


def scored_texts():
    """(dialogue id, turn index) -> text of every conversation turn of the sample logs (system
    messages are not part of the conversation)."""
    texts = {}
    for record in SAMPLE_RECORDS:
        for index, message in enumerate(record["messages"]):
            if message["role"] in ("user", "assistant"):
                texts[(record["id"], index)] = message["content"]
    return texts


@pytest.fixture(scope="module")
def candidate(tmp_path_factory):
    """The sample logs with every assistant reply of two dialogues made curt: a regression."""
    records = json.loads(json.dumps(SAMPLE_RECORDS))
    for record in records[:2]:
        for message in record["messages"]:
            if message["role"] == "assistant":
                message["content"] = "ok ."
    path = tmp_path_factory.mktemp("candidate") / "candidate.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def score_report(tiny_bundle, tmp_path_factory):
    folder = tmp_path_factory.mktemp("report")
    pages = []
    for name in ("a", "b"):
        out = folder / name
        out.mkdir()
        result = run("score", SAMPLE, "-m", tiny_bundle, "-q", "-o", out / "report.html", "-o", out / "summary.md",
                     "-o", out / "summary.json", "--fail-under", "perceived.empathy=0.2",
                     "--fail-over", "perceived.helpfulness=0.01", "--seed", "7")
        assert result.exit_code == 1, result.output           # the second gate fails
        pages.append(out)
    return pages


# ---- score -o report.html ---------------------------------------------------------------------------

@needs_report
def test_score_report_is_self_contained_and_complete(score_report):
    html = (score_report[0] / "report.html").read_text(encoding="utf-8")
    summary = json.loads((score_report[0] / "summary.json").read_text(encoding="utf-8"))
    assert not EXTERNAL.search(html), EXTERNAL.search(html).group(0)
    assert "<link" not in html and "<script src" not in html
    assert summary["signature"]["manifest_sha256"] in html
    for name in summary["corpus"]:
        assert f'id="metric-{name}"' in html
    # the tiny bundle has none; repetition.rate needs none (no model)
    assert html.count("validity: not measured") == len(summary["corpus"]) - 1
    # one distribution plot per metric, one curve per dialogue
    assert html.count("<svg") == len(summary["corpus"]) + len(summary["dialogues"])
    for (dialogue_id, _), text in scored_texts().items():
        assert dialogue_id in html
        assert text.replace("'", "&#39;") in html
    # every gate with its threshold, the bound it was judged on, and its verdict
    assert "<code>--fail-under perceived.empathy=0.2</code>" in html and "ci_low" in html
    assert "<code>--fail-over perceived.helpfulness=0.01</code>" in html and "ci_high" in html
    assert html.count("<b>PASS</b>") == 1 and html.count("<b>FAIL</b>") == 1


@needs_report
def test_score_report_lists_dialogues_lowest_perceived_empathy_first(score_report):
    html = (score_report[0] / "report.html").read_text(encoding="utf-8")
    summary = json.loads((score_report[0] / "summary.json").read_text(encoding="utf-8"))
    expected = [d["dialogue_id"] for d in sorted(summary["dialogues"],
                                                 key=lambda d: (d["metrics"]["perceived.empathy"], d["dialogue_id"]))]
    shown = re.findall(r'<tr class="row"><td class="mono">([^<]+)</td>', html)
    assert shown == expected


@needs_report
def test_same_input_and_seed_give_byte_identical_report_and_summary(score_report):
    first, second = score_report
    assert (first / "report.html").read_bytes() == (second / "report.html").read_bytes()
    assert (first / "summary.md").read_bytes() == (second / "summary.md").read_bytes()


def test_markdown_summary_has_gates_and_key_metrics(score_report):
    text = (score_report[0] / "summary.md").read_text(encoding="utf-8")
    summary = json.loads((score_report[0] / "summary.json").read_text(encoding="utf-8"))
    assert text.startswith("### empathy-score · ❌ FAIL: 1 of 2 gates failed")
    assert "| `--fail-under perceived.empathy=0.2` | ✅ PASS | ci_low |" in text
    assert "| `--fail-over perceived.helpfulness=0.01` | ❌ FAIL | ci_high |" in text
    entry = summary["corpus"]["perceived.empathy"]
    assert (f"| `perceived.empathy` | higher | {entry['mean']:.3f} | "
            f"[{entry['ci_low']:.3f}, {entry['ci_high']:.3f}] |") in text
    key = text.split("**Key metrics**")[1].split("<details>")[0]
    assert "esconv_strategy.rate" not in key                  # descriptive: only in the full table
    assert text.count("`esconv_strategy.rate.question`") == 1


def test_html_report_is_refused_without_the_extra_before_any_scoring(tmp_path):
    """jinja2 hidden from the interpreter: one line naming the extra, exit 2, before the model is even
    loaded (the model path does not exist: loading it would be exit 4), and nothing written."""
    code = ("import sys; sys.modules['jinja2'] = None; from empathy_metric.cli.main import main; "
            "main(sys.argv[1:])")
    for args in (["score", str(SAMPLE), "-o", str(tmp_path / "out.jsonl"), "-o", str(tmp_path / "r.html")],
                 ["compare", str(SAMPLE), str(SAMPLE), "-o", str(tmp_path / "d.html")]):
        done = subprocess.run([sys.executable, "-c", code, *args, "-m", str(tmp_path / "no-model")],
                              capture_output=True, text=True)
        assert done.returncode == 2, done.stderr
        assert done.stderr.count("\n") == 1
        assert "needs the 'report' extra (missing: jinja2): pip install 'empathy-metric[report]'" in done.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", ["score", "compare"])
def test_unknown_output_extension_is_a_usage_error_before_any_scoring(command, tmp_path):
    inputs = [SAMPLE] if command == "score" else [SAMPLE, SAMPLE]
    result = run(command, *inputs, "-m", tmp_path / "no-model", "-o", tmp_path / "out.json",
                 "-o", tmp_path / "report.pdf")
    assert result.exit_code == 2
    assert f"report.pdf: unknown output format for {command}" in result.output
    assert ".html or .md" in result.output
    assert list(tmp_path.iterdir()) == []


def test_compare_refuses_per_turn_outputs(tmp_path):
    result = run("compare", SAMPLE, SAMPLE, "-m", tmp_path / "no-model", "-o", tmp_path / "turns.jsonl")
    assert result.exit_code == 2 and "unknown output format for compare" in result.output


# ---- compare -o diff.html / diff.md -------------------------------------------------------------------

@pytest.fixture(scope="module")
def saved(tiny_bundle, candidate, tmp_path_factory):
    """Per-turn outputs of both sides, with and without their text."""
    folder = tmp_path_factory.mktemp("saved")
    paths = {}
    for side, log in (("baseline", SAMPLE), ("candidate", candidate)):
        for text in (False, True):
            paths[side, text] = folder / f"{side}{'-text' if text else ''}.jsonl"
            result = run("score", log, "-m", tiny_bundle, "-q", "-o", paths[side, text],
                         *(["--include-text"] if text else []))
            assert result.exit_code == 0, result.output
    return paths


@needs_report
def test_compare_report_marks_regressions_and_shows_drops_side_by_side(tiny_bundle, candidate, tmp_path):
    result = run("compare", SAMPLE, candidate, "-m", tiny_bundle, "-o", tmp_path / "diff.html",
                 "-o", tmp_path / "diff.json", "-o", tmp_path / "diff.md", "--max-drop", "perceived.empathy=0.0")
    data = json.loads((tmp_path / "diff.json").read_text(encoding="utf-8"))
    html = (tmp_path / "diff.html").read_text(encoding="utf-8")
    markdown = (tmp_path / "diff.md").read_text(encoding="utf-8")
    assert not EXTERNAL.search(html)
    table = data["metrics"]
    regressions = [n for n, e in table.items() if e["change"] == "regression"]
    assert result.exit_code == (0 if data["gates"][0]["passed"] else 1)
    assert html.count("▼ regression</td>") == len(regressions)
    for name in regressions:
        assert f"| `{name}` |" in markdown.split("**Regressions**")[1].split("<details>")[0]
    # the dialogues that dropped most: the two with curt replies, with both sides' texts
    drops = re.findall(r'<summary><span class="mono">([^<]+)</span>', html)
    assert set(drops) <= {"support-001", "support-002"} and drops
    assert html.count("<div class=\"text\">ok .</div>") >= 2
    for record in SAMPLE_RECORDS:
        if record["id"] in drops:           # the baseline's replies beside the candidate's "ok ."
            reply = next(m["content"] for m in record["messages"] if m["role"] == "assistant")
            assert reply.replace("'", "&#39;") in html


@needs_report
def test_compare_report_of_saved_scores(saved, tmp_path):
    for text in (False, True):
        out = tmp_path / f"diff-{text}.html"
        result = run("compare", saved["baseline", text], saved["candidate", text], "-o", out)
        assert result.exit_code == 0, result.output
        html = out.read_text(encoding="utf-8")
        assert "only the scored turns are known" in html
        assert ("<div class=\"text\">ok .</div>" in html) == text
        assert ("without their text (score with --include-text" in html) == (not text)


@needs_report
def test_compare_report_needs_files_not_stdin(tiny_bundle, tmp_path):
    result = CliRunner().invoke(cli, ["compare", str(SAMPLE), "-", "-m", str(tiny_bundle), "-o",
                                      str(tmp_path / "d.html")], input=SAMPLE.read_text(), catch_exceptions=False)
    assert result.exit_code == 2 and "neither may be stdin" in result.output


def test_change_of_follows_the_metric_direction():
    from empathy_metric.reporting.comparison import change_of
    assert change_of({"direction": "higher", "ci_low": -0.3, "ci_high": -0.1}) == "regression"
    assert change_of({"direction": "higher", "ci_low": 0.1, "ci_high": 0.3}) == "improvement"
    assert change_of({"direction": "lower", "ci_low": 0.1, "ci_high": 0.3}) == "regression"
    assert change_of({"direction": "lower", "ci_low": -0.3, "ci_high": -0.1}) == "improvement"
    assert change_of({"direction": "higher", "ci_low": -0.1, "ci_high": 0.1}) == "none"
    assert change_of({"direction": "none", "ci_low": 0.1, "ci_high": 0.3}) == "none"


# ---- --include-text -------------------------------------------------------------------------------

def test_include_text_adds_the_scored_turns_text(tiny_bundle, tmp_path):
    plain, texts, table = tmp_path / "plain.jsonl", tmp_path / "text.jsonl", tmp_path / "text.csv"
    assert run("score", SAMPLE, "-m", tiny_bundle, "-q", "-o", plain).exit_code == 0
    assert run("score", SAMPLE, "-m", tiny_bundle, "-q", "-o", texts, "-o", table, "--include-text").exit_code == 0
    expected = scored_texts()
    with_text = [json.loads(line) for line in texts.read_text(encoding="utf-8").splitlines()]
    without = [json.loads(line) for line in plain.read_text(encoding="utf-8").splitlines()]
    assert all("text" not in r for r in without)
    assert [r["text"] for r in with_text] == [expected[r["dialogue_id"], r["turn_index"]] for r in with_text]
    assert [{k: v for k, v in r.items() if k != "text"} for r in with_text] == without
    with open(table, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows[0][-1] == "text"
    assert [row[-1] for row in rows[1:]] == [r["text"] for r in with_text]


def test_resume_refuses_to_mix_runs_with_and_without_text(tiny_bundle, tmp_path):
    out = tmp_path / "turns.jsonl"
    assert run("score", SAMPLE, "-m", tiny_bundle, "-q", "-o", out, "--include-text").exit_code == 0
    result = run("score", SAMPLE, "-m", tiny_bundle, "-q", "-o", out, "--resume")
    assert result.exit_code == 2 and "differs: include_text" in result.output
    again = run("score", SAMPLE, "-m", tiny_bundle, "-q", "-o", out, "--resume", "--include-text")
    assert again.exit_code == 0, again.output


# ---- terminal tables at 80 columns ----------------------------------------------------------------

def table_rows(output: str) -> dict[str, str]:
    """Full metric name -> its row, from a table whose names are grouped (a prefix row, then rows of
    indented last parts)."""
    rows, prefix = {}, ""
    for line in output.splitlines():
        if line.rstrip().endswith(".") and len(line.split()) == 1:
            prefix = line.strip()
        elif line.startswith("  ") and prefix:
            rows[prefix + line.split()[0]] = line
    return rows


def assert_whole_names(output: str, names: list[str]) -> dict[str, str]:
    assert "…" not in output
    assert max(len(line) for line in output.splitlines()) <= 80
    rows = table_rows(output)
    assert sorted(rows) == sorted(names)
    assert list(rows)[0] == "perceived.empathy"          # the headline first
    return rows


def test_score_table_fits_80_columns_with_direction_and_ci_level(tiny_bundle, tmp_path):
    result = run("score", SAMPLE, "-m", tiny_bundle, "-o", tmp_path / "s.json", "--ci", "0.9",
                 env={"COLUMNS": "80"})
    summary = json.loads((tmp_path / "s.json").read_text(encoding="utf-8"))
    table = run("score", SAMPLE, "-m", tiny_bundle, "--ci", "0.9", env={"COLUMNS": "80"}).stdout
    assert result.exit_code == 0
    assert_whole_names(table, list(summary["corpus"]))
    header = next(line for line in table.splitlines() if line.startswith("metric"))
    assert header.split() == ["metric", "better", "mean", "90%", "CI"]
    assert re.search(r"^  empathy +higher +\d\.\d{3} +\[", table, re.M)
    assert re.search(r"^  weak +– +", table, re.M)                    # descriptive
    # the first line is the headline: perceived.empathy with its CI, before the table
    assert re.match(r"perceived\.empathy \d\.\d{3} \[\d\.\d{3}, \d\.\d{3}\] \(90% CI\), higher is better\n",
                    table)
    # then the rest in one fixed order: gateable metrics before descriptive ones
    better = [line.split()[1] for name, line in table_rows(table).items()]
    assert "–" not in better[:better.index("–")] and set(better[better.index("–"):]) == {"–"}


def test_compare_table_fits_80_columns_and_marks_regressions(tiny_bundle, candidate, tmp_path, capsys):
    from empathy_metric.cli.report import print_compare
    result = run("compare", SAMPLE, candidate, "-m", tiny_bundle, env={"COLUMNS": "80"})
    assert result.exit_code == 0
    assert run("compare", SAMPLE, candidate, "-m", tiny_bundle, "-o", tmp_path / "d.json").exit_code == 0
    data = json.loads((tmp_path / "d.json").read_text(encoding="utf-8"))
    assert_whole_names(result.stdout, list(data["metrics"]))
    assert "95% CI" in result.stdout and "▼ regression / ▲ improvement" in result.stdout
    # the tiny random model moves little: mark two metrics to see how marks are printed
    table = data["metrics"]
    table["perceived.empathy"]["change"] = "regression"
    table["emh_explorations.rate.none"]["change"] = "improvement"
    print_compare(table, data, width=80)
    rows = assert_whole_names(capsys.readouterr().out, list(table))
    for name, entry in table.items():
        mark = {"regression": "▼", "improvement": "▲"}.get(entry["change"])
        assert (mark in rows[name]) if mark else ("▼" not in rows[name] and "▲" not in rows[name]), rows[name]
        if mark:        # it ends the row, so a terminal drawing it two columns wide shifts nothing
            assert rows[name].rstrip().endswith(f"] {mark}"), rows[name]
    # every CI starts in the same column, marked rows or not
    assert len({line.index("[") for line in rows.values()}) == 1


# ---- progress -------------------------------------------------------------------------------------

def test_records_are_counted_before_scoring(tmp_path):
    from empathy_metric.io.readers import ReaderOptions
    from empathy_metric.io.readers.counting import count_records
    jsonl = tmp_path / "a.jsonl"
    jsonl.write_text("\n".join(json.dumps(r) for r in SAMPLE_RECORDS) + "\n\n", encoding="utf-8")
    array = tmp_path / "b.json"
    array.write_text(json.dumps(SAMPLE_RECORDS, indent=1), encoding="utf-8")
    emh = tmp_path / "c.csv"
    emh.write_text('seeker_post,response_post\n"a\nb",c\n\nd,e\n', encoding="utf-8")
    options = ReaderOptions()
    assert count_records([str(jsonl)], options) == len(SAMPLE_RECORDS)
    assert count_records([str(array)], options) == len(SAMPLE_RECORDS)
    assert count_records([str(emh)], options) == 2
    assert count_records([str(jsonl), str(array)], options) == 2 * len(SAMPLE_RECORDS)
    assert count_records(["-"], options) is None
    assert count_records([str(tmp_path / "missing.jsonl")], options) is None


def test_plain_progress_line_every_interval_with_total_and_eta(capsys):
    from empathy_metric.cli.report import PlainProgress
    now = [100.0]
    progress = PlainProgress(total=40, interval=10.0, clock=lambda: now[0])
    for records, at in ((5, 104.0), (10, 110.0), (20, 115.0), (30, 121.0)):
        now[0] = at
        progress(records, records, 3 * records)
    lines = capsys.readouterr().err.splitlines()
    # the first line once 2 s have passed, then one every 10 s
    assert lines == ["scoring: 5/40 records (12%), 5 dialogues, 15 agent turns, 4s elapsed, about 28s left",
                     "scoring: 20/40 records (50%), 20 dialogues, 60 agent turns, 15s elapsed, about 15s left"]


def test_quiet_run_prints_no_progress(tiny_bundle, tmp_path):
    result = run("score", SAMPLE, "-m", tiny_bundle, "-q", "-o", tmp_path / "t.jsonl")
    assert result.exit_code == 0 and result.output == ""


# ---- transcripts kept for the report --------------------------------------------------------------

def test_transcripts_keep_the_lowest_within_the_cap_whatever_the_order():
    import random

    from empathy_metric.pipeline.aggregation import DialogueScore
    from empathy_metric.reporting.transcripts import LowestTranscripts
    rng = random.Random(0)
    scores = [DialogueScore(f"d{i:03d}", [], {"perceived.empathy": round(rng.random(), 1)}, 0) for i in range(300)]
    expected = sorted(scores, key=lambda s: (s.metrics["perceived.empathy"], s.dialogue_id))[:25]
    for _ in range(3):
        rng.shuffle(scores)
        keeper = LowestTranscripts("perceived.empathy", cap=25)
        for score in scores:
            keeper.add(score)
            assert len(keeper.kept) < 50
        assert [t.dialogue_id for t in keeper.lowest_first()] == [s.dialogue_id for s in expected]


def test_validity_note_reads_the_manifest_defensively():
    from empathy_metric.reporting.html_report import validity_note
    entry = {"dialogue_r": 0.61, "dialogue_r_ci": [0.52, 0.69], "length_partialled_r": 0.55,
             "length_partialled_r_ci": [0.45, 0.64], "corpus_bias": -0.012, "corpus_bias_ci": [-0.03, 0.004],
             "n_dialogues": 195, "data": "ESConv valid.json"}
    assert validity_note(entry) == ("dialogue-level r 0.61 [0.52, 0.69] (0.55 [0.45, 0.64] with reply length "
                                    "partialled out); corpus bias -0.012 [-0.030, +0.004]; n = 195 dialogues; "
                                    "ESConv valid.json")
    assert validity_note({"dialogue_r": 0.2}).endswith("Below the 0.4 floor: a gate on it is mostly noise")
    assert validity_note({"dialogue_r": 0.5, "dialogue_r_ci": ["a", 1], "n_dialogues": True}) == \
        "dialogue-level r 0.50"
    for entry in (None, {}, {"dialogue_r": "high"}, {"dialogue_r": float("nan")}, ["r", 0.6]):
        assert validity_note(entry) == "not measured"


@needs_report
def test_report_shows_the_validity_the_manifest_ships(tiny_bundle, tmp_path):
    import shutil
    bundle = Path(shutil.copytree(tiny_bundle, tmp_path / "bundle"))
    manifest = json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))
    manifest["validity"] = {"floor": 0.4, "metrics": {
        "perceived.empathy": {"dialogue_r": 0.61, "dialogue_r_ci": [0.52, 0.69], "n_dialogues": 195, "data": "WASSA"},
        "perceived.helpfulness": {"dialogue_r": 0.21}, "emh_explorations.mean_level": "garbage"}}
    (bundle / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    result = run("score", SAMPLE, "-m", bundle, "-q", "-o", tmp_path / "r.html")
    assert result.exit_code == 0, result.output
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "validity: dialogue-level r 0.61 [0.52, 0.69]; n = 195 dialogues; WASSA" in html
    assert "validity: dialogue-level r 0.21. Below the 0.4 floor" in html
    # all but the two measured ones and repetition.rate (no model)
    assert html.count("validity: not measured") == len(re.findall(r'id="metric-', html)) - 3
    assert "validity: no model: computed from the turn texts" in html
