"""Every output leads with the decision: the verdict, then perceived.empathy with its CI and its place
among the model's reference points; Markdown outputs are valid CommonMark alone and concatenated."""
import json
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner
from markdown_it import MarkdownIt

from conftest import SAMPLE
from empathy_metric.cli.main import cli
from empathy_metric.reporting.headline import ordered_metrics, scale_line, wrapped_items

pytestmark = pytest.mark.scoring

HAS_REPORT_EXTRA = all(__import__("importlib").util.find_spec(m) for m in ("jinja2", "matplotlib"))
REFERENCES = {"perceived.empathy": [
    {"name": "human supporters", "value": 0.338, "ci": [0.333, 0.344], "source": "ESConv valid.json"},
    {"name": "canned bot", "value": 0.145, "ci": [0.143, 0.147], "source": "ESConv valid.json, canned"},
    {"name": "curt bot", "value": 0.183, "ci": [0.180, 0.187], "source": "ESConv valid.json, curt"},
    {"name": "WASSA raters", "value": 0.393, "ci": [0.372, 0.414], "source": "WASSA 2023 dev"}]}


def run(*args, env=None):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False, env=env)


@pytest.fixture(scope="module")
def referenced(tiny_bundle, tmp_path_factory):
    """The tiny bundle with measured reference points in its manifest, as `eval --record-references`
    writes them."""
    folder = Path(shutil.copytree(tiny_bundle, tmp_path_factory.mktemp("ref") / "bundle"))
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["references"] = {"metrics": REFERENCES, "measured_with": "empathy-score eval --record-references"}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


@pytest.fixture(scope="module")
def outputs(referenced, tmp_path_factory):
    out = tmp_path_factory.mktemp("outputs")
    paths = {kind: out / name for kind, name in (("md", "summary.md"), ("json", "summary.json"),
                                                 ("junit", "gates.junit.xml"), ("diff", "diff.md"))}
    extra = ["-o", out / "report.html"] if HAS_REPORT_EXTRA else []
    result = run("score", SAMPLE, "-m", referenced, "-q", "-o", paths["md"], "-o", paths["json"], "-o", paths["junit"],
                 *extra, "--fail-under", "perceived.empathy=0.2", "--fail-under", "emh_explorations.mean_level=0.0")
    assert result.exit_code == 0, result.output
    assert run("compare", SAMPLE, SAMPLE, "-m", referenced, "-q", "-o", paths["diff"]).exit_code == 0
    paths["html"] = out / "report.html"
    return paths


def test_table_starts_with_the_verdict_and_perceived_empathy_on_its_reference_scale(referenced):
    table = run("score", SAMPLE, "-m", referenced, "--fail-under", "perceived.empathy=0.2",
                env={"COLUMNS": "80"}).stdout
    lines = table.splitlines()
    assert lines[0] == "PASS: 1 of 1 gate passed"
    assert re.fullmatch(r"perceived\.empathy 0\.\d{3} \[0\.\d{3}, 0\.\d{3}\] \(95% CI\), higher is better", lines[1])
    value = float(lines[1].split()[1])
    scale = " ".join(lines[2:4])
    assert re.search(rf"canned bot 0\.14 · curt bot 0\.18 · human supporters 0\.34 · .*this run {value:.2f}", scale)
    assert max(len(line.rstrip()) for line in lines) <= 80 and "…" not in table


def test_markdown_leads_with_the_headline_and_is_valid_alone_and_concatenated(outputs):
    text = outputs["md"].read_text(encoding="utf-8")
    summary = json.loads(outputs["json"].read_text(encoding="utf-8"))
    entry = summary["corpus"]["perceived.empathy"]
    first = text.split("\n\n")[:3]
    assert first[0] == "### empathy-score · ✅ PASS: 2 of 2 gates passed"
    assert first[1].startswith(f"**`perceived.empathy` {entry['mean']:.3f}** "
                               f"[{entry['ci_low']:.3f}, {entry['ci_high']:.3f}] (95% CI)  \nReference points: "
                               "canned bot 0.14 · curt bot 0.18 · human supporters 0.34")
    assert f"**this run {entry['mean']:.2f}**" in first[1]
    assert summary["references"]["perceived.empathy"][0]["name"] == "canned bot"
    md = MarkdownIt("commonmark").enable("table")
    alone = md.parse(text)
    assert [t.tag for t in alone if t.type == "heading_open"] == ["h3"]
    assert sum(t.type == "table_open" for t in alone) == 3          # gates, key metrics, all metrics
    # the collapsed table is a table, not text inside the HTML block
    html = md.render(text)
    assert html.index("<details>") < html.rindex("<table>") < html.index("</details>")
    diff = outputs["diff"].read_text(encoding="utf-8")
    both = md.parse(text + diff)                  # `cat summary.md diff.md >> $GITHUB_STEP_SUMMARY`
    headings = [md.renderer.render(both[i + 1].children, md.options, {}) for i, t in enumerate(both)
                if t.type == "heading_open"]
    assert len(headings) == 2 and headings[1].startswith("empathy-score compare")
    assert sum(t.type == "table_open" for t in both) == sum(t.type == "table_open" for t in alone) + \
        sum(t.type == "table_open" for t in md.parse(diff))
    assert text.endswith("</details>\n\n") and diff.endswith("</details>\n\n")


def test_markdown_numbers_never_read_minus_zero(tmp_path, referenced):
    diff = tmp_path / "d.md"              # --max-drop 0: the threshold is -0.0
    assert run("compare", SAMPLE, SAMPLE, "-m", referenced, "-q", "-o", diff, "--max-drop",
               "perceived.empathy=0").exit_code == 0
    text = diff.read_text(encoding="utf-8")
    assert "-0.0000" not in text and "| 0.0000 |" in text
    # a tiny threshold keeps its size (a negative one is refused now: outside perceived.empathy's 0..1)
    summary = tmp_path / "s.md"
    assert run("score", SAMPLE, "-m", referenced, "-q", "-o", summary, "--fail-under",
               "perceived.empathy=0.00001").exit_code == 0
    text = summary.read_text(encoding="utf-8")
    assert "0.0000 " not in text and "| 1e-05 |" in text


def test_junit_leads_with_the_verdict_and_the_headline(outputs):
    suite = ET.parse(outputs["junit"]).getroot().find("testsuite")
    assert suite[0].tag == "properties"
    properties = [(p.get("name"), p.get("value")) for p in suite[0]]
    assert properties[0] == ("verdict", "PASS: 2 of 2 gates passed")
    assert properties[1][0] == "perceived.empathy"
    assert re.match(r"0\.\d{3} \[0\.\d{3}, 0\.\d{3}\]; canned bot 0\.14 · curt bot 0\.18 · ", properties[1][1])
    assert "this run" in properties[1][1]
    cases = [c.get("name") for c in suite.iter("testcase")]
    assert cases == ["--fail-under perceived.empathy=0.2", "--fail-under emh_explorations.mean_level=0"]


@pytest.mark.skipif(not HAS_REPORT_EXTRA, reason="the [report] extra (jinja2, matplotlib)")
def test_html_leads_with_the_verdict_and_the_headline_then_perceived_plots(outputs):
    page = outputs["html"].read_text(encoding="utf-8")
    headline = page.index('<section class="headline"')
    assert headline < page.index('<h2 id="run">')
    block = page[headline:page.index("</section>", headline)]
    assert "PASS: 2 of 2 gates passed" in block and "<code>perceived.empathy</code>" in block
    assert re.search(r'<li[^>]*>canned bot 0\.14</li><li[^>]*>curt bot 0\.18</li>.*<li class="run">this run 0\.\d\d</li>',
                     block)
    plots = re.findall(r'<div class="metric" id="metric-([^"]+)">', page)
    assert plots[:2] == ["perceived.empathy", "perceived.helpfulness"]


def test_order_and_scale_helpers():
    directions = {"a.rate.x": "none", "a.mean_level": "higher", "perceived.helpfulness": "higher",
                  "perceived.empathy": "higher", "b.rate.none": "lower"}
    assert ordered_metrics(list(directions), directions) == [
        "perceived.empathy", "perceived.helpfulness", "a.mean_level", "b.rate.none", "a.rate.x"]
    points = REFERENCES["perceived.empathy"]
    assert scale_line(0.31, sorted(points, key=lambda p: p["value"])) == \
        "canned bot 0.14 · curt bot 0.18 · this run 0.31 · human supporters 0.34 · WASSA raters 0.39"
    assert scale_line(0.31, []) == ""
    lines = wrapped_items([f"item number {k} 0.{k}" for k in range(12)], 40)
    assert all(len(line) <= 40 for line in lines) and all(line.startswith("  item") for line in lines)


def test_a_truncated_turn_says_which_part_was_cut():
    from empathy_metric.reporting.transcripts import TranscriptTurn
    turn = TranscriptTurn(1, "assistant", "hi", True, {}, {}, True, ("context_before",))
    assert turn.cut_note == "earlier context cut to fit"
    both = TranscriptTurn(1, "assistant", "hi", True, {}, {}, True, ("turn", "context_after"))
    assert both.cut_note == "this turn and later context cut to fit"
    assert TranscriptTurn(1, "assistant", "hi", True, {}, {}).cut_note == ""
    assert TranscriptTurn(1, "assistant", "hi", True, {}, {}, True).cut_note == "window cut to fit"  # an old file
