"""The same input gives byte-identical per-turn output whatever the batch size, token budget, thread
count, input order or run (ONNX Runtime on CPU), for the fp32 and the int8 bundle."""
import json
import random

import pytest

pytestmark = pytest.mark.scoring

WORDS = ("i am sorry to hear that it sounds really hard what happened after you are doing great keep "
         "going maybe try talking to a friend here is some information hello how today feel so sad alone "
         "thank listening order broken help please reset password exams stress me out").split()


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    """150 dialogues of 1-9 turns, 1-60 words a turn: short windows, long ones cut to the window
    (max 96 tokens), dialogues without an agent turn, batches of every shape."""
    rng = random.Random(7)
    path = tmp_path_factory.mktemp("det") / "logs.jsonl"
    with open(path, "w", encoding="utf-8") as handle:
        for i in range(150):
            messages = [{"role": rng.choice(["user", "assistant"]) if k else "user",
                         "content": " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 60)))}
                        for k in range(rng.randint(1, 9))]
            handle.write(json.dumps({"id": f"d{i:03d}", "messages": messages}) + "\n")
    return path


def scored_bytes(score_cli, tmp_path, model, logs, *flags):
    out = tmp_path / f"out{abs(hash(flags))}.jsonl"
    result = score_cli(logs, "-o", out, *flags, model=model)
    assert result.exit_code == 0, result.output
    return out.read_bytes()


FLAGS = [("--batch-size", "1"), ("--batch-size", "3"), ("--batch-size", "64"),
         ("--max-batch-tokens", "150"), ("--max-batch-tokens", "1000000", "--batch-size", "1024"),
         ("--threads", "1"), ("--threads", "2")]


def test_fp32_output_is_byte_identical_across_batching_and_threads(score_cli, tmp_path, tiny_bundle, logs):
    reference = scored_bytes(score_cli, tmp_path, tiny_bundle, logs)
    records = [json.loads(line) for line in reference.decode().splitlines()]
    assert len(records) > 200 and any(r["truncated"] for r in records) and not all(r["truncated"] for r in records)
    for flags in FLAGS:
        assert scored_bytes(score_cli, tmp_path, tiny_bundle, logs, *flags) == reference, flags
    assert scored_bytes(score_cli, tmp_path, tiny_bundle, logs) == reference      # a second run


def test_int8_output_is_byte_identical_across_batching_and_threads(score_cli, tmp_path, tiny_int8_bundle, logs):
    reference = scored_bytes(score_cli, tmp_path, tiny_int8_bundle, logs)
    for flags in [("--batch-size", "64"), ("--max-batch-tokens", "150"), ("--threads", "1"), ("--threads", "2"), ()]:
        assert scored_bytes(score_cli, tmp_path, tiny_int8_bundle, logs, *flags) == reference, flags


def test_input_order_does_not_change_any_record(score_cli, tmp_path, tiny_bundle, logs):
    reversed_logs = tmp_path / "reversed.jsonl"
    reversed_logs.write_text("".join(reversed(logs.read_text().splitlines(keepends=True))))
    forward = scored_bytes(score_cli, tmp_path, tiny_bundle, logs).decode().splitlines()
    backward = scored_bytes(score_cli, tmp_path, tiny_bundle, reversed_logs).decode().splitlines()
    assert sorted(forward) == sorted(backward) and forward != backward


def test_python_api_matches_the_cli(score_cli, tmp_path, tiny_bundle, logs):
    """`Scorer.score` (any batch size) gives the CLI's records."""
    from empathy_metric import Scorer
    cli_records = [json.loads(line) for line in scored_bytes(score_cli, tmp_path, tiny_bundle, logs).decode().splitlines()]
    dialogues = [json.loads(line) for line in logs.read_text().splitlines()]
    for batch_size in (1, 128):
        scorer = Scorer.from_pretrained(str(tiny_bundle), max_batch_size=batch_size)
        result = scorer.score(dialogues)
        signed = {"model": scorer.bundle.name, "manifest_sha256": scorer.bundle.signature()["manifest_sha256"],
                  "settings": scorer.settings()}
        # the CLI's records are signed with the model and settings (compare checks them), the API's are not
        assert [{**u.to_record(), "scored_by": signed} for u in result.utterances] == cli_records
