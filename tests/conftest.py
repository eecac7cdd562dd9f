import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "examples" / "sample_logs.jsonl"
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_EVALUATE_OFFLINE", "1")


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory):
    from builders import build_checkpoint
    return build_checkpoint(tmp_path_factory.mktemp("tiny"))


def _export(checkpoint, out, precision):
    from empathy_metric.dialogue import DEFAULT_AGENT_ROLES
    from empathy_metric.export.bundle_builder import export_encoder_bundle
    from empathy_metric.io.readers import ReaderOptions, read_dialogues
    from empathy_metric.pipeline.windows import WindowSettings, windows_of
    dialogues = list(read_dialogues(str(SAMPLE), ReaderOptions()))
    windows = windows_of(dialogues, WindowSettings(max_tokens=96), DEFAULT_AGENT_ROLES)
    export_encoder_bundle(str(checkpoint), str(out), "tiny-test", windows, precision=precision)
    return out


@pytest.fixture(scope="session")
def tiny_bundle(tiny_checkpoint, tmp_path_factory):
    """A random multi-head encoder exported to an fp32 ONNX bundle by the project's export code."""
    return _export(tiny_checkpoint, tmp_path_factory.mktemp("bundle") / "tiny-fp32", "fp32")


@pytest.fixture(scope="session")
def tiny_int8_bundle(tiny_checkpoint, tmp_path_factory):
    return _export(tiny_checkpoint, tmp_path_factory.mktemp("bundle") / "tiny-int8", "int8")


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
