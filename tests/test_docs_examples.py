"""Docs are tests: every shell example of README.md and docs/ci-gating.md runs, with its documented
exit code, and README's validity table is the one docs/validity_table.py generates from the manifest.

Conventions (README, "Docs that run"):
- every fenced block names its language; `sh` blocks are shell examples and run here, line by line
  (a line ending in `\\` continues), in a fresh folder holding examples/ and the sample logs under the
  names the docs use (logs.jsonl, replayed.jsonl, baseline.jsonl, candidate.jsonl, candidate-b.jsonl);
- `# exit N` in a command's comment is the exit code it must give there (default 0);
- `# not run: WHY` on a block's first line skips the block, at the end of a command skips that command.
`empathy-score` is the CLI of this checkout, with the shipped model.
"""
import os
import re
import shutil
import subprocess
import sys

import pytest

from conftest import REPO, SAMPLE

DOCS = [REPO / "README.md", REPO / "docs" / "ci-gating.md"]
FENCE = re.compile(r"^(?P<indent> *)```(?P<info>[^`\s]*)\s*$")
NOT_RUN = "# not run:"
EXIT = re.compile(r"#.*\bexit (\d+)\b")
LOG_NAMES = ("logs.jsonl", "replayed.jsonl", "baseline.jsonl", "candidate.jsonl", "candidate-b.jsonl")


def fenced_blocks(path):
    """(first line number, info string, lines) of every fenced block."""
    blocks, current = [], None
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        match = FENCE.match(line)
        if current is None and match:
            current = (number, match["info"], len(match["indent"]), [])
        elif current is not None and match and not match["info"]:
            blocks.append((current[0], current[1], current[3]))
            current = None
        elif current is not None:
            current[3].append(line[current[2]:])
    assert current is None, f"{path.name}:{current[0]}: unclosed fence"
    return blocks


def commands(lines):
    """A shell block's commands: (text, expected exit code), `\\` continuations joined, skipped ones left out."""
    found, pending = [], ""
    for line in lines:
        pending += line.rstrip()
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        text, pending = pending.strip(), ""
        if not text or text.startswith("#") or NOT_RUN in text:
            continue
        match = EXIT.search(text)
        found.append((text, int(match.group(1)) if match else 0))
    return found


def shell_blocks():
    for path in DOCS:
        for number, info, lines in fenced_blocks(path):
            if info == "sh" and not (lines and lines[0].strip().startswith(NOT_RUN)):
                yield pytest.param(lines, id=f"{path.name}:{number}")


def test_every_fenced_block_names_its_language():
    untagged = [f"{path.name}:{number}" for path in DOCS for number, info, _ in fenced_blocks(path) if not info]
    assert not untagged, f"fenced blocks without a language (sh, text, python, ...): {untagged}"


def test_every_skipped_example_says_why():
    for path in DOCS:
        for number, info, lines in fenced_blocks(path):
            for line in lines if info == "sh" else []:
                if NOT_RUN in line:
                    assert line.split(NOT_RUN, 1)[1].strip(), f"{path.name}:{number}: '# not run:' without a reason"


@pytest.fixture
def docs_folder(tmp_path):
    shutil.copytree(REPO / "examples", tmp_path / "examples")
    for name in LOG_NAMES:
        shutil.copy(SAMPLE, tmp_path / name)
    bin_dir = tmp_path / ".bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "empathy-score"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m empathy_metric.cli.main "$@"\n')
    wrapper.chmod(0o755)
    (bin_dir / "python").symlink_to(sys.executable)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "PYTHONPATH": str(REPO)}
    return tmp_path, env


@pytest.mark.slow
@pytest.mark.parametrize("lines", list(shell_blocks()))
def test_shell_example_gives_its_documented_exit_code(lines, docs_folder):
    folder, env = docs_folder
    for text, expected in commands(lines):
        done = subprocess.run(["bash", "-c", text], cwd=folder, env=env, capture_output=True, text=True,
                              timeout=600)
        assert done.returncode == expected, (f"`{text}` exited {done.returncode}, the docs say {expected}\n"
                                             f"{done.stderr[-3000:]}")


def test_readme_validity_table_is_generated_from_the_manifest():
    sys.path.insert(0, str(REPO / "docs"))
    try:
        import validity_table
    finally:
        sys.path.remove(str(REPO / "docs"))
    assert validity_table.readme_table((REPO / "README.md").read_text(encoding="utf-8")) == validity_table.table(), \
        "README.md's validity table is stale: run `python docs/validity_table.py --write`"


def test_docs_gate_perceived_empathy_only_at_measured_floors():
    """Every perceived.empathy floor in the docs is one research/gate/thresholds.txt shows passing the
    real supporters of ESConv valid and failing the canned bot."""
    measured = (REPO / "research" / "gate" / "thresholds.txt").read_text(encoding="utf-8")
    floors = set()
    for path in DOCS:
        floors |= set(re.findall(r"--fail-under perceived\.empathy=([0-9.]+)", path.read_text(encoding="utf-8")))
    assert floors
    for floor in floors:
        option = f"[--fail-under perceived.empathy={float(floor):g}]"
        base = measured.split("--- score base", 1)[1].split("--- score", 1)[0]
        canned = measured.split("--- score canned", 1)[1].split("--- score", 1)[0]
        assert any(line.startswith("PASS") and option in line for line in base.splitlines()), floor
        assert any(line.startswith("FAIL") and option in line for line in canned.splitlines()), floor
