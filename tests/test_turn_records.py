"""The per-turn record format is written and read back by one module (io/turn_records.py): what
`-o turns.jsonl` writes reads back to the same scores, for compare, --resume and the Ray summary."""
import json

import pytest

from conftest import SAMPLE

pytestmark = pytest.mark.scoring


def test_records_read_back_to_the_scores_written(tiny_bundle, tmp_path):
    from empathy_metric.api import Scorer
    from empathy_metric.io.turn_records import JsonlFormat, is_saved_scores, iter_saved_scores, jsonl_lines
    scorer = Scorer.from_pretrained(str(tiny_bundle))
    result = scorer.score(json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines())
    path = tmp_path / "turns.jsonl"
    text = "".join(JsonlFormat(include_text=True).render(d) for d in result.dialogues)
    path.write_text(text, encoding="utf-8")
    assert is_saved_scores(str(path)) and not is_saved_scores(str(SAMPLE))
    back = [u for dialogue in iter_saved_scores(str(path), scorer.tasks, scorer.perceived) for u in dialogue]
    assert [u.to_record(True) for u in back] == [json.loads(line) for line in jsonl_lines(text)]
    assert [u.to_record(True) for u in back] == [u.to_record(True) for u in result.utterances]


def test_a_bad_value_is_named_with_its_line_and_field(tiny_bundle, tmp_path):
    from empathy_metric.bundle import load_bundle
    from empathy_metric.errors import InputError
    from empathy_metric.io.turn_records import iter_saved_scores
    bundle = load_bundle(str(tiny_bundle))
    path = tmp_path / "turns.jsonl"
    path.write_text('{"dialogue_id": "d", "turn_index": "1", "labels": {}, "probs": {}}\n', encoding="utf-8")
    with pytest.raises(InputError) as error:
        list(iter_saved_scores(str(path), bundle.tasks, bundle.perceived))
    assert (str(error.value), error.value.field) == (f"{path}:1: 'turn_index' must be an integer", "turn_index")
