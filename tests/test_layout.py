"""The architecture's seams: commands found by name (and a one-line error where their extra is
missing), the backend registry and protocol, and the scoring path's independence from training."""
import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from conftest import REPO, SAMPLE
from empathy_metric.bundle import load_bundle
from empathy_metric.cli import main
from empathy_metric.errors import MissingExtraError, ModelError

pytestmark = pytest.mark.scoring
TRAINING_COMMANDS = ("train", "cv", "cv-merge", "average", "eval", "zero-shot", "export")


def test_help_lists_every_command_including_the_training_side():
    result = CliRunner().invoke(main.cli, ["--help"])
    assert result.exit_code == 0
    for name in ("score", "compare", "metrics", *TRAINING_COMMANDS):
        assert f"  {name} " in result.output


@pytest.mark.parametrize("args", [["train", "-o", "x", "--data", "d"], ["export", "--help"], ["cv"]])
def test_a_command_without_its_extra_names_the_extra_and_exits_2(monkeypatch, args):
    command = main.COMMANDS[args[0]]
    monkeypatch.setitem(main.COMMANDS, args[0],
                        main.LazyCommand(command.target, command.short_help, command.extra, ("no_such_module_xyz",)))
    result = CliRunner().invoke(main.cli, args)
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"error: `empathy-score {args[0]}` needs the '{command.extra}' extra (missing: no_such_module_xyz): "
        f"pip install 'empathy-metric[{command.extra}]'"]


def test_training_commands_in_this_install():
    """Where torch is missing (the scoring install) the real commands say so; with it, they parse."""
    torch_missing = bool(main.missing_modules(main.COMMANDS["train"]))
    result = subprocess.run([sys.executable, "-m", "empathy_metric.cli.main", "train", "-o", "x"],
                            capture_output=True, text=True, cwd=REPO, timeout=120)
    assert result.returncode == 2
    if torch_missing:
        assert "pip install 'empathy-metric[train]'" in result.stderr and len(result.stderr.splitlines()) == 1
    else:
        assert "Missing option '--data'" in result.stderr           # --data has no default path


def test_scoring_imports_no_training_code(tiny_bundle, tmp_path):
    code = ("import sys; from empathy_metric.cli.main import main\n"
            "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'transformers', 'sklearn') "
            "or m.startswith(('empathy_metric.training', 'empathy_metric.export')))\n"
            "print(bad, file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", code, "score", str(SAMPLE), "-m", str(tiny_bundle), "-q",
                           "-o", str(tmp_path / "t.jsonl")], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.stderr.strip().splitlines()[-1] == "[]", done.stderr


def test_registry_names_every_manifest_kind_and_refuses_others(tiny_bundle, monkeypatch):
    from empathy_metric import runtime
    from empathy_metric.bundle import BACKENDS
    assert set(BACKENDS) <= set(runtime._FACTORIES)
    with pytest.raises(ModelError, match="no backend for 'nope'"):
        runtime.backend_factory("nope")
    bundle = load_bundle(tiny_bundle)
    assert type(runtime.load_backend(bundle)).__name__ == "OnnxEncoderBackend"
    monkeypatch.setitem(runtime._FACTORIES, "onnx-encoder", "onnx-encoder")      # restored afterwards
    calls = []
    runtime.register_backend("onnx-encoder", lambda *args: calls.append(args) or "backend")
    assert runtime.load_backend(bundle, max_batch_size=7) == "backend" and calls == [(bundle, "cpu", None, 16384, 7)]


def test_a_backend_kind_whose_extra_is_missing_names_it(monkeypatch):
    from empathy_metric import runtime
    monkeypatch.setitem(runtime._FACTORIES, "torch-encoder", "no_such_module_xyz.backend:Backend")
    with pytest.raises(MissingExtraError, match=r"pip install 'empathy-metric\[train\]'"):
        runtime.backend_factory("torch-encoder")


def test_with_settings_gives_a_new_backend_and_leaves_the_first_alone(tiny_bundle):
    from empathy_metric.api import Scorer
    scorer = Scorer.from_pretrained(str(tiny_bundle))
    realtime = Scorer(scorer.bundle, scorer.backend, future_context=False)
    assert realtime.backend is not scorer.backend and realtime.backend.session is scorer.backend.session
    assert scorer.backend.encoder.settings.turns_after == 3 and realtime.backend.encoder.settings.turns_after == 0
    records = [json.loads(line) for line in SAMPLE.read_text().splitlines()]
    full, previous_only = scorer.score(records), realtime.score(records)
    assert len(full.utterances) == len(previous_only.utterances)
    assert full.utterances != previous_only.utterances
    assert scorer.score(records).utterances == full.utterances          # the first scorer is unchanged


def test_score_responses_scores_the_reply_as_the_scorer_scores_its_dialogue(tiny_bundle):
    from empathy_metric.api import Scorer, response_dialogue, score_responses
    scorer = Scorer.from_pretrained(str(tiny_bundle))
    predictions = ["i am sorry to hear that .", "what happened after that ?", "ok"]
    contexts = [["i feel so sad and alone ."], [], ["hello", "hi , how can i help ?", "my order arrived broken"]]
    replies = score_responses(scorer, predictions, contexts)
    dialogues = [response_dialogue(i, p, c) for i, (p, c) in enumerate(zip(predictions, contexts))]
    scored = scorer.score(dialogues)
    last = [d.utterances[-1] for d in scored.dialogues]
    assert [(u.labels, u.probs, u.perceived) for u in replies] == [(u.labels, u.probs, u.perceived) for u in last]


def test_fast_names_the_shipped_student(tmp_path):
    """`-m fast` scores with the 3-layer student shipped beside the default; an unknown name lists it."""
    out = tmp_path / "turns.jsonl"
    result = CliRunner().invoke(main.cli, ["score", str(SAMPLE), "-m", "fast", "-o", str(out), "-q"])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "turns.jsonl.run.json").read_text())["signature"]["model"] == "minilm-empathy-v5-fast"
    result = CliRunner().invoke(main.cli, ["score", str(SAMPLE), "-m", "quick", "-o", str(out)])
    assert result.exit_code == 4
    assert "fast = minilm-empathy-v5-fast" in result.output
