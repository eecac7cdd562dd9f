"""Property-based fuzzing of every reader: random JSON structures, wrong types, odd unicode (RTL, emoji,
NUL, lone surrogates), huge turns, deep nesting, BOMs, CRLF, blank lines, random bytes. Only the
project's typed errors (InputError) or counted skips come out, never another exception; what the
readers pass on is clean (text, UTF-8-encodable strings) and adds up."""
import csv
import io
import json

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from empathy_metric.errors import InputError
from empathy_metric.io.readers import ReaderOptions, ReadStats, read_dialogues

pytestmark = pytest.mark.scoring

FUZZ = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                      HealthCheck.too_slow])
ODD_TEXT = st.text(alphabet=st.one_of(
    st.characters(),                                                  # any code point but surrogates
    st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF),        # lone surrogates (legal in JSON)
    st.sampled_from(["\u202e", "\u200f", "\u0000", "\ufeff", "😀", "\r", "\n", "\u2028", "é", "ש"])),
    max_size=30)
LEAVES = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | ODD_TEXT
JSON = st.recursive(LEAVES, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(ODD_TEXT, inner, max_size=4),
                    max_leaves=12)
ROLE_KEYS = ["role", "from", "speaker", "author"]
TEXT_KEYS = ["content", "text", "value", "utterance"]
ROLES = st.sampled_from(["user", "assistant", "system", "tool", "usr", "sys", "seeker", "supporter", "gpt",
                         "human", "ASSISTANT"]) | ODD_TEXT
PART = st.fixed_dictionaries({"type": st.sampled_from(["text", "image_url", "input_text", "audio"]),
                              "text": ODD_TEXT | JSON})
CONTENT = ODD_TEXT | st.lists(PART | ODD_TEXT | JSON, max_size=3) | JSON
TURN = st.one_of(
    st.builds(lambda role_key, text_key, role, content, extra: {**extra, role_key: role, text_key: content},
              st.sampled_from(ROLE_KEYS), st.sampled_from(TEXT_KEYS), ROLES, CONTENT,
              st.dictionaries(st.sampled_from(["strategy", "annotation", "label"]), JSON, max_size=2)),
    st.dictionaries(st.sampled_from(ROLE_KEYS + TEXT_KEYS) | ODD_TEXT, JSON, max_size=3),
    JSON)
RECORD = st.one_of(
    st.builds(lambda key, turns, extra: {**extra, key: turns},
              st.sampled_from(["messages", "conversations", "dialog", "turns"]), st.lists(TURN, max_size=6),
              st.dictionaries(st.sampled_from(["id", "dialogue_id", "survey_score"]), JSON, max_size=2)),
    JSON)
# Well-formed chats with odd text: most of them reach the model.
CHAT = st.builds(lambda turns: {"messages": turns}, st.lists(
    st.builds(lambda role, content: {"role": role, "content": content},
              st.sampled_from(["user", "assistant", "assistant", "system"]), ODD_TEXT | st.lists(PART, max_size=2)),
    min_size=1, max_size=6))


def check_dialogue(d):
    """What a reader passes on: strings all encodable as UTF-8, indices in order, counts consistent."""
    for s in (d.dialogue_id, *(t.role for t in d.turns), *(t.text for t in d.turns)):
        assert isinstance(s, str)
        s.encode("utf-8")
    assert all(t.text.strip() for t in d.turns)
    indices = [t.index for t in d.turns]
    assert indices == sorted(set(indices)) and all(0 <= i < d.turns_read for i in indices)
    assert len(d.turns) + sum(d.skipped.values()) == d.turns_read
    for t in d.turns:
        json.dumps(t.gold, ensure_ascii=False, allow_nan=False).encode("utf-8")


def read_all(path, **options):
    stats = ReadStats()
    return list(read_dialogues(str(path), ReaderOptions(**options), stats)), stats


def jsonl_bytes(records, newline, bom, blank_every):
    lines = [json.dumps(r, ensure_ascii=True) for r in records]     # \ud800 escapes survive
    out = []
    for k, line in enumerate(lines):
        if blank_every and k % blank_every == 0:
            out.append(" \t")
        out.append(line)
    return (b"\xef\xbb\xbf" if bom else b"") + newline.decode().join(out).encode() + newline


@FUZZ
@given(records=st.lists(RECORD, max_size=6), newline=st.sampled_from([b"\n", b"\r\n"]), bom=st.booleans(),
       blank_every=st.integers(0, 3), fmt=st.sampled_from(["auto", "openai", "generic"]))
def test_jsonl_reader_skip_mode_never_raises(tmp_path, records, newline, bom, blank_every, fmt):
    path = tmp_path / "fuzz.jsonl"
    path.write_bytes(jsonl_bytes(records, newline, bom, blank_every))
    as_array = bool(records) and isinstance(records[0], list)    # a first line '[' = one whole JSON array
    try:
        dialogues, stats = read_all(path, on_error="skip", format=fmt)
    except InputError as error:       # ... which is unreadable as a whole: the one error skip mode raises
        assert as_array and str(error).startswith(f"{path}: not valid JSON")
        return
    for d in dialogues:
        check_dialogue(d)
    event(f"{len(dialogues)} of {len(records)} records became dialogues")
    if not as_array:
        assert stats.records_read == len(records)
        assert len(dialogues) + sum(stats.records_skipped.values()) == stats.records_read


@FUZZ
@given(records=st.lists(RECORD, max_size=6))
def test_jsonl_reader_raise_mode_raises_only_input_errors(tmp_path, records):
    path = tmp_path / "fuzz.jsonl"
    path.write_bytes(jsonl_bytes(records, b"\n", False, 0))
    try:
        for d in read_all(path)[0]:
            check_dialogue(d)
    except InputError as error:
        assert error.source == str(path) and str(error).startswith(f"{path}")


@FUZZ
@given(records=st.lists(RECORD, max_size=6), indent=st.sampled_from([None, 2]))
def test_whole_file_json_array(tmp_path, records, indent):
    path = tmp_path / "fuzz.json"
    path.write_text(json.dumps(records, indent=indent), encoding="utf-8")
    try:
        dialogues, stats = read_all(path, on_error="skip")
    except InputError as error:       # only a whole-file problem may stop a skip-mode read
        assert str(error).startswith(f"{path}: ")
        return
    for d in dialogues:
        check_dialogue(d)
    assert stats.records_read == len(records)


@FUZZ
@given(data=st.binary(max_size=300), on_error=st.sampled_from(["raise", "skip"]),
       suffix=st.sampled_from([".jsonl", ".csv"]))
def test_random_bytes(tmp_path, data, on_error, suffix):
    path = tmp_path / f"bytes{suffix}"
    path.write_bytes(data)
    try:
        for d in read_all(path, on_error=on_error)[0]:
            check_dialogue(d)
    except InputError:
        pass


@FUZZ
@given(rows=st.lists(st.lists(ODD_TEXT.map(lambda s: s.encode("utf-8", "replace").decode()), max_size=5),
                     max_size=6),
       tail=st.binary(max_size=40), newline=st.sampled_from(["\n", "\r\n"]), bom=st.booleans())
def test_emh_csv_reader(tmp_path, rows, tail, newline, bom):
    text = io.StringIO()
    writer = csv.writer(text, lineterminator=newline)
    writer.writerow(["sp_id", "rp_id", "seeker_post", "response_post", "level"])
    writer.writerows(rows)
    path = tmp_path / "fuzz.csv"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.getvalue().encode() + tail)
    dialogues, stats = read_all(path, on_error="skip")
    for d in dialogues:
        check_dialogue(d)
    assert len(dialogues) + sum(stats.records_skipped.values()) == stats.records_read
    try:
        read_all(path)
    except InputError as error:
        assert error.line is not None and error.line >= 2


@pytest.mark.parametrize("layout", ["jsonl", "array", "gold"])
def test_deep_nesting_is_an_input_error(tmp_path, layout):
    deep = "[" * 100_000 + "]" * 100_000
    text = {"jsonl": deep + "\n",
            "array": "[" + deep + "]",
            "gold": '{"messages": [{"role": "assistant", "content": "hi", "strategy": %s}]}\n' % ("[" * 500 + "]" * 500)}[layout]
    path = tmp_path / "deep.jsonl"
    path.write_text(text)
    with pytest.raises(InputError) as error:
        read_all(path)
    assert str(error.value).split(": ", 1)[1] in (
        "not valid JSON (nested too deeply)", "turn 0 gold labels are nested deeper than 32 levels")


def test_nested_list_content_is_counted_not_crashed(tmp_path):
    path = tmp_path / "nested.jsonl"
    nested = "[" * 500 + "]" * 500
    path.write_text('{"messages": [{"role": "user", "content": [%s, {"type": "text", "text": "hi"}]}]}\n' % nested)
    [dialogue], _ = read_all(path)
    assert (dialogue.turns[0].text, dialogue.truncated_parts) == ("hi", 1)


def test_one_megabyte_turns(tmp_path):
    big = ("i am sorry to hear that . " * 40_000)[:1_000_000]
    path = tmp_path / "big.jsonl"
    path.write_text(json.dumps({"messages": [{"role": "user", "content": big}, {"role": "assistant", "content": big}]}) + "\n")
    [dialogue], _ = read_all(path)
    assert len(dialogue.turns[1].text) == len(big.strip())
    csv_path = tmp_path / "big.csv"
    csv_path.write_text(f"seeker_post,response_post\n{big},ok\nhi,there\n")
    with pytest.raises(InputError) as error:           # the csv module's field limit: a clear error
        read_all(csv_path)
    assert str(error.value) == f"{csv_path}:2: not valid CSV (field larger than field limit (131072))"
    dialogues, stats = read_all(csv_path, on_error="skip")
    assert [d.turns[0].text for d in dialogues] == ["hi"] and stats.records_read == 2


def test_bom_crlf_and_blank_lines(tmp_path):
    path = tmp_path / "windows.jsonl"
    record = json.dumps({"id": "w", "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]})
    path.write_bytes(b"\xef\xbb\xbf\r\n\r\n" + record.encode() + b"\r\n\r\n  \r\n")
    [dialogue], stats = read_all(path)
    assert (dialogue.dialogue_id, [t.text for t in dialogue.turns], stats.records_read) == ("w", ["hi", "yo"], 1)
    array = tmp_path / "windows.json"
    array.write_bytes(b"\xef\xbb\xbf\r\n[" + record.encode() + b"]\r\n")
    assert [d.dialogue_id for d in read_all(array)[0]] == ["w"]
    utf16 = tmp_path / "utf16.jsonl"
    utf16.write_bytes(record.encode("utf-16"))
    with pytest.raises(InputError, match=r"utf16.jsonl:1: this looks like UTF-16 text \(it starts with a UTF-16 "
                                         r"byte order mark\), not a dialogue log .*: write it as UTF-8"):
        read_all(utf16)


def test_one_megabyte_turn_end_to_end(score_cli, tmp_path):
    """A 1 MB scored turn is cut to the model window (its beginning kept) and counted."""
    big = ("i am sorry to hear that , " * 40_000)[:1_000_000]
    logs = tmp_path / "big.jsonl"
    logs.write_text(json.dumps({"id": "big", "messages": [{"role": "user", "content": "hi"},
                                                          {"role": "assistant", "content": big}]}) + "\n")
    out, summary = tmp_path / "out.jsonl", tmp_path / "s.json"
    result = score_cli(logs, "-o", out, "-o", summary)
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["truncated"] is True
    assert json.loads(summary.read_text())["counts"]["windows_truncated"] == 1


@pytest.fixture(scope="module")
def scorer(tiny_bundle):
    from empathy_metric import Scorer
    return Scorer.from_pretrained(str(tiny_bundle))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(records=st.lists(CHAT | CHAT | RECORD, max_size=4))
def test_whole_chain_on_fuzzed_records(scorer, tmp_path, records):
    """Fuzzed records through reader, windows, tokenizer, ONNX Runtime and the JSONL writer."""
    from empathy_metric.io.writers import JsonlFormat, TurnWriter
    from empathy_metric.pipeline.accounting import Counts
    path = tmp_path / "chain.jsonl"
    path.write_bytes(jsonl_bytes(records, b"\n", False, 0))
    counts, stats = Counts(), ReadStats()
    writer = TurnWriter(str(tmp_path / "out.jsonl"), JsonlFormat())
    try:
        dialogues = read_dialogues(str(path), ReaderOptions(on_error="skip"), stats)
        for scored in scorer.iter_scores(dialogues, counts, "skip"):
            writer.write_dialogue(scored)
    except InputError:
        assert bool(records) and isinstance(records[0], list)     # only a whole-file array may stop it
        return
    finally:
        writer.close()
    written = (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()
    event("some turn scored" if written else "nothing scored")
    assert len(written) == counts.turns_scored
    assert all(set(json.loads(line)["labels"]) == {t.name for t in scorer.tasks} for line in written)
