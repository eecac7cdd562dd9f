import importlib.util
import os
import shutil
import signal
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "examples" / "sample_logs.jsonl"
FIXTURES = REPO / "tests" / "fixtures"
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_EVALUATE_OFFLINE", "1")
TRAINING_STACK = importlib.util.find_spec("torch") is not None


def with_default_sigint() -> None:
    """preexec_fn for a child that a test interrupts with SIGINT: a shell starts a background job
    (`make test &`) with SIGINT ignored, children inherit that and Python keeps it, so Ctrl-C would
    never reach the child. It gets the disposition a terminal user's process has."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def pytest_ignore_collect(collection_path, config):
    """In the scoring install (`pip install . pytest hypothesis`: no torch), a test module without any
    `scoring` test is not even imported: training-side modules import torch at the top. Run
    `pytest -m scoring` there."""
    if not TRAINING_STACK and collection_path.name.startswith("test_") and collection_path.suffix == ".py":
        return "pytest.mark.scoring" not in collection_path.read_text(encoding="utf-8")
    return None


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory):
    """The random multi-head checkpoint the committed tiny bundles were exported from (needs torch)."""
    from builders import build_checkpoint
    return build_checkpoint(tmp_path_factory.mktemp("tiny"))


def _fixture_bundle(name: str, tmp_path_factory) -> Path:
    """A committed bundle (tests/fixtures/build_tiny_bundle.py), copied so that no test can alter it."""
    return Path(shutil.copytree(FIXTURES / name, tmp_path_factory.mktemp("bundle") / name))


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory):
    """A random multi-head encoder exported to an fp32 ONNX bundle by the project's export code."""
    return _fixture_bundle("tiny-bundle", tmp_path_factory)


@pytest.fixture(scope="session")
def tiny_int8_bundle(tmp_path_factory):
    return _fixture_bundle("tiny-int8-bundle", tmp_path_factory)


@pytest.fixture
def score_cli(tiny_bundle):
    """`empathy-score` run in-process by click's runner on the tiny fp32 bundle (real CLI, real ORT):
    score_cli(*args, input=None, model=tiny_bundle, quiet=True) -> click.testing.Result."""
    from click.testing import CliRunner

    from empathy_metric.cli.main import cli

    def run(*args, input=None, model=tiny_bundle, quiet=True):
        argv = [str(a) for a in args] + ["-m", str(model)] + (["-q"] if quiet else [])
        return CliRunner().invoke(cli, argv, input=input, catch_exceptions=False)
    return run
