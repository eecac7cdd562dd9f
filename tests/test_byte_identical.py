"""Outputs stay byte-identical across refactors: every -o kind of `score` (committed example log with
the shipped model; a generated corpus with the tiny bundle, read by the parent or by the workers,
with bad records and duplicate ids skipped), of `compare` and of `analyze`, for `--workers 1`,
`--workers 2` and `--engine ray`, hashed against `tests/fixtures/golden/outputs.sha256.json`.

The golden hashes were first written by the code of commit 8a16653 (before the engine split of issue
32), which the split reproduced byte for byte (commit f5b2e67); they were written again after the
deliberate output changes of issues 33-37 (records signed, `truncated_parts`, `repeats`, headline
first, Markdown code spans; compare now pairs scores of one model only, so its case uses the model of
the saved file), and again when the shipped model's manifest changed (its sha256 signs the summary).
`python tests/test_byte_identical.py --write` regenerates them, which only a deliberate change of an
output format (or of the shipped model) may do. Excluded, as not decided by the scoring: the package version (it is in the
summary's signature and the report; replaced by `<version>` before hashing), and the input paths
(the runs name their inputs relative to their working folder)."""
import hashlib
import json
import os
import random
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conftest import FIXTURES, SAMPLE  # noqa: E402

GOLDEN = FIXTURES / "golden" / "outputs.sha256.json"
SCORE_OUTPUTS = ("turns.jsonl", "turns.csv", "summary.json", "summary.md", "report.html", "gates.junit.xml")
COMPARE_OUTPUTS = ("compare.json", "compare.md", "compare.html", "compare.junit.xml")
ANALYZE_OUTPUTS = ("analysis.json", "analysis.md", "analysis.html")
GATES = ("--fail-under", "perceived.empathy=0.2", "--fail-over", "esconv_strategy.rate.others=0.9")
WORDS = ("I", "feel", "so", "alone", "lately", "that", "sounds", "hard", "have", "you", "tried", "talking",
         "to", "someone", "my", "boss", "shouted", "thanks", "café", "naïve", "😀", "it", "is", "okay")

pytestmark = pytest.mark.scoring


def write_corpus(path: Path, n: int = 1700, seed: int = 32) -> Path:
    """A JSONL log of `n` dialogues (~400 KB: more than two blocks per worker of two, so `--workers 2`
    reads in the workers), with a few duplicate ids, bad records, blank turns and dialogues without
    an agent turn (scored with --on-error skip)."""
    rng = random.Random(seed)
    lines = []
    for i in range(n):
        turns = [{"role": "assistant" if k % 2 else "user",
                  "content": " ".join(rng.choice(WORDS) for _ in range(rng.randint(0 if k == 3 else 1, 14)))}
                 for k in range(rng.randint(1, 6))]
        dialogue_id = f"d{i - 7}" if i % 211 == 0 and i else f"d{i}"
        lines.append(json.dumps({"id": dialogue_id, "messages": turns, "rating": rng.randint(1, 5)},
                                ensure_ascii=False))
        if i % 397 == 5:
            lines.append('{"id": "broken", "messages": [')
        if i % 503 == 9:
            lines.append(json.dumps({"id": f"x{i}", "messages": "not a list"}))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def digest(data: bytes) -> str:
    from empathy_metric.version import __version__
    return hashlib.sha256(data.replace(__version__.encode(), b"<version>")).hexdigest()


@contextmanager
def inside(folder: Path):
    before = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(before)


def invoke(argv: list[str], stdin: bytes | None = None) -> int:
    from click.testing import CliRunner

    from empathy_metric.cli.main import cli
    result = CliRunner().invoke(cli, [str(a) for a in argv], input=stdin, catch_exceptions=False)
    assert result.exit_code in (0, 1), result.output
    return result.exit_code


def run_case(folder: Path, command: str, inputs: list[str], outputs: tuple[str, ...], args: list[str],
             stdin: bytes | None = None) -> dict[str, str]:
    """Run one command in `folder` (inputs named relative to it); the sha256 of each output."""
    folder.mkdir(parents=True, exist_ok=True)
    with inside(folder):
        code = invoke([command, *inputs, "-q", *sum((["-o", name] for name in outputs), []), *args], stdin)
        found = {name: digest((folder / name).read_bytes()) for name in outputs}
    return {"exit_code": code, **found}


def cases(root: Path, tiny: Path, engines: tuple[str, ...]) -> dict[str, dict]:
    """Every case of the golden file: name -> {exit_code, output name -> sha256}."""
    corpus = write_corpus(root / "corpus.jsonl")
    sample = root / "sample.jsonl"
    sample.write_bytes(SAMPLE.read_bytes())
    ratings = root / "ratings.csv"
    ratings.write_text("dialogue_id,empathy\n" + "".join(f"d{i},{(i * 7) % 5 + 1}\n" for i in range(0, 1700, 3)),
                       encoding="utf-8")
    skip = ["--on-error", "skip"]
    found = {}
    for engine in engines:
        workers = ("1", "2") if engine == "local" else ("2",)
        extra = ["--engine", "ray"] if engine == "ray" else []
        for n in workers:
            tag = f"{engine}-w{n}"
            if engine == "local":
                found[f"sample-shipped-{tag}"] = run_case(
                    root / f"sample-{tag}", "score", ["../sample.jsonl"], SCORE_OUTPUTS,
                    ["--workers", n, "--include-text", "--bootstrap", "200", *GATES])
            found[f"corpus-file-{tag}"] = run_case(
                root / f"file-{tag}", "score", ["../corpus.jsonl"], SCORE_OUTPUTS,
                ["-m", tiny, "--workers", n, *skip, "--bootstrap", "200", *GATES, *extra])
            found[f"corpus-stdin-{tag}"] = run_case(
                root / f"stdin-{tag}", "score", ["-"], SCORE_OUTPUTS,
                ["-m", tiny, "--workers", n, *skip, "--include-text", "--bootstrap", "100", *extra],
                stdin=corpus.read_bytes())
    base = root / "file-local-w1" / "turns.jsonl"
    if not base.exists():
        run_case(root / "file-local-w1", "score", ["../corpus.jsonl"], ("turns.jsonl",), ["-m", tiny, *skip])
    found["compare-saved-vs-log"] = run_case(
        root / "compare", "compare", ["../file-local-w1/turns.jsonl", "../corpus.jsonl"], COMPARE_OUTPUTS,
        ["-m", tiny, *skip, "--bootstrap", "200", "--max-drop", "perceived.empathy=0.01"])
    found["analyze-ratings-file"] = run_case(
        root / "analyze", "analyze", ["../corpus.jsonl"], ANALYZE_OUTPUTS,
        ["-m", tiny, *skip, "--ratings", "../ratings.csv", "--record-rating", "stars=rating", "--bootstrap", "100"])
    return found


def golden() -> dict[str, dict]:
    return json.loads(GOLDEN.read_text(encoding="utf-8"))


def check(found: dict[str, dict]) -> None:
    """Ray's outputs are held to the golden ones of the local engine with the same workers."""
    expected = golden()
    for name, outputs in found.items():
        assert outputs == expected[name.replace("-ray-", "-local-")], f"{name}: outputs differ from the golden ones"


def test_local_engine_writes_the_golden_bytes(tmp_path, tiny_bundle):
    check(cases(tmp_path, tiny_bundle, ("local",)))


@pytest.mark.ray
@pytest.mark.skipif(not __import__("importlib").util.find_spec("ray"), reason="the [ray] extra (Ray Data)")
def test_ray_engine_writes_the_golden_bytes(tmp_path, tiny_bundle):
    import ray

    from empathy_metric.distributed import connect
    connect(num_cpus=2)
    try:
        found = cases(tmp_path, tiny_bundle, ("ray",))
    finally:
        ray.shutdown()
    assert {"corpus-file-ray-w2", "corpus-stdin-ray-w2"} <= set(found)
    check(found)


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    import tempfile
    root = Path(tempfile.mkdtemp(prefix="golden-"))
    found = cases(root, FIXTURES / "tiny-bundle", ("local",))
    GOLDEN.parent.mkdir(parents=True, exist_ok=True)
    GOLDEN.write_text(json.dumps(found, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {GOLDEN} from {root}")
