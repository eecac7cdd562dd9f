"""Reading human ratings (io/ratings.py): CSV and JSONL side files, which columns are ratings, ratings
carried by log records, and bad input as FILE:LINE errors naming the field."""
import json

import pytest

from empathy_metric.errors import InputError, UsageError
from empathy_metric.io.ratings import Rating, RatingsOptions, RecordRating, read_ratings

pytestmark = pytest.mark.scoring


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path.name


def test_csv_numeric_columns_are_ratings_and_text_columns_are_listed(in_tmp):
    name = write(in_tmp / "r.csv", "dialogue_id,turn_index,helpful,comment,clarity\n"
                                    "d1,3,4,nice, \n\nd1,,5,,2.5\nd2, 7 ,\" 3 \",meh,1\n")
    found = read_ratings(name, RatingsOptions())
    assert found.ratings == [Rating("d1", 3, "helpful", 4.0, "r.csv:2"), Rating("d1", None, "helpful", 5.0, "r.csv:4"),
                             Rating("d1", None, "clarity", 2.5, "r.csv:4"), Rating("d2", 7, "helpful", 3.0, "r.csv:5"),
                             Rating("d2", 7, "clarity", 1.0, "r.csv:5")]
    assert found.columns == ["helpful", "clarity"] and found.ignored_columns == ["comment"]
    assert found.to_dict()["rows"] == 3


def test_named_ratings_and_keys(in_tmp):
    name = write(in_tmp / "r.csv", "conv,pos,a,b\nx,1,1,2\nx,,,3\n")
    found = read_ratings(name, RatingsOptions(id_key="conv", turn_key="pos", names=("a",)))
    assert found.ratings == [Rating("x", 1, "a", 1.0, "r.csv:2")]
    assert found.rows_without_rating == 1


def test_jsonl_rows(in_tmp):
    lines = [{"id": "d1", "turn_index": 2, "score": 4}, {"id": 7, "score": "5", "who": "ann"}]
    name = write(in_tmp / "r.jsonl", "".join(json.dumps(r) + "\n" for r in lines))
    found = read_ratings(name, RatingsOptions())
    assert found.ratings == [Rating("d1", 2, "score", 4.0, "r.jsonl:1"), Rating("7", None, "score", 5.0, "r.jsonl:2")]
    assert found.ignored_columns == ["who"]


BAD = [
    ("r.csv", "dialogue_id,turn_index,h\nd,1,4\nd,2,x4\n",
     "r.csv:3: rating 'h' is not a number: 'x4'"),
    ("r.csv", "dialogue_id,turn_index,h\nd,1,4\nd,2.5,4\n",
     "r.csv:3: turn index 'turn_index' must be a whole number >= 0, got '2.5'"),
    ("r.csv", "dialogue_id,turn_index,h\nd,-1,4\n",
     "r.csv:2: turn index 'turn_index' must be a whole number >= 0, got '-1'"),
    ("r.csv", "dialogue_id,h\nd,4\n,5\n", "r.csv:3: no dialogue id in 'dialogue_id'"),
    ("r.csv", "dialogue_id,h\nd,4,5\n", "r.csv:2: row has 3 fields, the header has 2"),
    ("r.csv", "dialogue_id,h\nd,inf\n", "r.csv:2: rating 'h' must be a finite number, got 'inf'"),
    ("r.csv", "who,h\nd,4\n", "r.csv:1: no dialogue id field (looked for: id, dialogue_id, dialog_id, "
                              "conversation_id, conv_id; "
                              "name it with --ratings-id-key)"),
    ("r.jsonl", '{"id": "d", "h": 4}\n{"id": "d", "h": \n', "r.jsonl:2: not valid JSON (Expecting value at column 18)"),
    ("r.jsonl", '{"id": "d", "h": 4}\n{"id": "d", "h": [4]}\n', "r.jsonl:2: rating 'h' must be a number, got list"),
    ("r.jsonl", '{"id": "d", "h": 4}\n[1]\n', "r.jsonl:2: expected one JSON object per line"),
    ("r.jsonl", '{"h": 4}\n', "r.jsonl:1: no dialogue id field (looked for: id, dialogue_id, dialog_id, "
                              "conversation_id, conv_id; "
                              "name it with --ratings-id-key)"),
]


@pytest.mark.parametrize("file_name, text, message", BAD)
def test_a_bad_line_names_file_line_and_field(in_tmp, file_name, text, message):
    name = write(in_tmp / file_name, text)
    with pytest.raises(InputError) as error:
        read_ratings(name, RatingsOptions())
    assert str(error.value) == message


def test_named_columns_must_exist(in_tmp):
    name = write(in_tmp / "r.csv", "dialogue_id,h\nd,4\n")
    with pytest.raises(InputError, match=r"^r.csv:1: no column 'x' \(given by --rating\)$"):
        read_ratings(name, RatingsOptions(names=("x",)))
    with pytest.raises(InputError, match="no such file"):
        read_ratings("missing.csv", RatingsOptions())


def test_record_ratings_follow_dotted_paths():
    survey = RecordRating.parse("empathy=survey_score.seeker.empathy")
    assert survey == RecordRating("empathy", "survey_score.seeker.empathy")
    assert RecordRating.parse("score") == RecordRating("score", "score")
    record = {"survey_score": {"seeker": {"empathy": "4", "relevance": ""}}, "score": 2}
    assert survey.value_in(record) == 4.0
    assert RecordRating.parse("survey_score.seeker.relevance").value_in(record) is None
    assert RecordRating.parse("survey_score.supporter.x").value_in(record) is None
    assert RecordRating.parse("score").value_in(record) == 2.0
    with pytest.raises(ValueError, match="rating 'empathy' is not a number: 'high'"):
        survey.value_in({"survey_score": {"seeker": {"empathy": "high"}}})
    for bad in ("x=", "=a", "a..b"):
        with pytest.raises(UsageError, match="expected \\[NAME=\\]PATH"):
            RecordRating.parse(bad)
