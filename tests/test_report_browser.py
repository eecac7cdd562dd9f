"""The HTML report in a real browser: headless Chromium (Debian's `chromium`; skipped where it is not
installed) loads it without console errors, finds its plots, and its script sorts, filters and opens
transcripts."""
import json
import re
import shutil
import subprocess

import pytest
from click.testing import CliRunner

from conftest import SAMPLE
from empathy_metric.cli.main import cli

CHROMIUM = shutil.which("chromium")
pytestmark = [pytest.mark.scoring,
              pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium (apt-get install chromium)"),
              pytest.mark.skipif(not all(__import__("importlib").util.find_spec(m) for m in ("jinja2", "matplotlib")),
                                 reason="the [report] extra (jinja2, matplotlib)")]

# What the page's own script must do, run after it: open a transcript, sort by the first metric
# column twice (descending), filter by one dialogue id.
EXERCISE = """<script>
var table = document.getElementById("dialogue-table");
var first = table.tBodies[0].rows[0];
first.click();
var opened = !first.nextElementSibling.hidden;
var header = table.tHead.rows[0].cells[2];
header.click(); header.click();
var ids = Array.prototype.map.call(table.tBodies, function (b) { return b.rows[0].cells[0].textContent; });
var input = document.querySelector("input.filter");
input.value = ids[1]; input.dispatchEvent(new Event("input"));
var visible = Array.prototype.filter.call(table.tBodies, function (b) { return !b.hidden; }).length;
var out = document.createElement("pre"); out.id = "exercised";
out.textContent = JSON.stringify({opened: opened, ids: ids, visible: visible, sorted: header.dataset.order});
document.body.appendChild(out);
</script>
</body>"""


def chromium(page, profile, *args):
    return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                           "--disable-background-networking", "--disable-component-update", "--disable-sync",
                           "--hide-scrollbars", f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
                           *args, page.as_uri()], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def report(tiny_bundle, tmp_path_factory):
    folder = tmp_path_factory.mktemp("browser")
    result = CliRunner().invoke(cli, ["score", str(SAMPLE), "-m", str(tiny_bundle), "-q", "-o",
                                      str(folder / "report.html"), "-o", str(folder / "summary.json")],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return folder


def test_report_loads_without_console_errors_and_shows_its_plots(report, tmp_path):
    summary = json.loads((report / "summary.json").read_text(encoding="utf-8"))
    done = chromium(report / "report.html", tmp_path / "profile", "--dump-dom")
    assert done.returncode == 0, done.stderr[-2000:]
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]
    assert console == []
    dom = done.stdout
    assert dom.count("<svg") == len(summary["corpus"]) + len(summary["dialogues"])
    for svg in re.findall(r"<svg.*?</svg>", dom, re.S):       # every plot has drawn content
        assert "<path" in svg
    assert dom.count('<tbody class="dialogue">') == len(summary["dialogues"])
    shot = tmp_path / "shot.png"
    done = chromium(report / "report.html", tmp_path / "profile", f"--screenshot={shot}", "--window-size=1280,1600")
    assert done.returncode == 0 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_script_sorts_filters_and_opens_transcripts(report, tmp_path):
    summary = json.loads((report / "summary.json").read_text(encoding="utf-8"))
    page = tmp_path / "exercised.html"
    html = (report / "report.html").read_text(encoding="utf-8")
    page.write_text(html.replace("</body>", EXERCISE), encoding="utf-8")
    done = chromium(page, tmp_path / "profile", "--dump-dom")
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]
    assert console == []
    found = json.loads(re.search(r'<pre id="exercised">(.*?)</pre>', done.stdout).group(1).replace("&amp;", "&"))
    empathy = {d["dialogue_id"]: d["metrics"]["perceived.empathy"] for d in summary["dialogues"]}
    assert found["opened"] is True
    assert found["sorted"] == "desc"
    assert [empathy[i] for i in found["ids"]] == sorted(empathy.values(), reverse=True)
    assert found["visible"] == 1
