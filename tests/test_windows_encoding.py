"""Windows and their encoding: far-side context trimmed first, the scored turn kept whole when it fits,
`target_mask` exactly on the scored turn's tokens; length-sorted batches."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builders import build_tokenizer
from empathy_metric.dialogue import DEFAULT_AGENT_ROLES, Dialogue, Turn
from empathy_metric.pipeline.encoding import WindowEncoder, cut_parts, length_sorted_batches
from empathy_metric.pipeline.windows import ContextTurn, Window, WindowSettings, dialogue_windows

pytestmark = pytest.mark.scoring

LETTERS = "abcdefghijklmnoprstuvwxy"   # one known WordPiece token each (no q, z) in the test tokenizer


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    from empathy_metric.pipeline.encoding import load_tokenizer
    return load_tokenizer(build_tokenizer(tmp_path_factory.mktemp("tok") / "tokenizer.json"))


def ids(tokenizer, text):
    return tokenizer.encode(text, add_special_tokens=False).ids


def words(first: str, n: int) -> str:
    """n one-token words starting at letter `first`, e.g. words('a', 3) == 'a b c'."""
    start = LETTERS.index(first)
    return " ".join(LETTERS[(start + k) % len(LETTERS)] for k in range(n))


def window(target, before=(), after=()):
    """before: oldest first, after: nearest first; all context from the other party."""
    return Window(dialogue_id="d", turn_index=3, role="assistant", target=target,
                  before=tuple(ContextTurn(False, t) for t in before),
                  after=tuple(ContextTurn(False, t) for t in after))


def encode(tokenizer, w, **settings):
    return WindowEncoder(tokenizer, WindowSettings(**settings)).encode([w])[0]


def masked_ids(encoded):
    return encoded.input_ids[encoded.target_mask == 1].tolist()


def test_tokenizer_assumptions(tokenizer):
    assert all(tokenizer.token_to_id(letter) is not None for letter in LETTERS)
    assert ids(tokenizer, words("a", 24)) == [tokenizer.token_to_id(letter) for letter in LETTERS]
    assert len(ids(tokenizer, "supporter:")) == 2 and len(ids(tokenizer, "seeker:")) == 2


def test_window_that_fits_is_whole(tokenizer):
    w = window("sorry to hear that", before=["a b c"], after=["d e"])
    e = encode(tokenizer, w, max_tokens=64)
    cls, sep = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    seeker, supporter = ids(tokenizer, "seeker:"), ids(tokenizer, "supporter:")
    expected = [cls, *seeker, *ids(tokenizer, "a b c"), *supporter, *ids(tokenizer, "sorry to hear that"),
                *seeker, *ids(tokenizer, "d e"), sep]
    assert e.input_ids.tolist() == expected
    assert masked_ids(e) == ids(tokenizer, "sorry to hear that")
    assert e.target_mask.sum() == 4 and not e.truncated
    assert e.input_ids.dtype == np.int64 and e.target_mask.dtype == np.float32


def test_far_side_context_is_trimmed_first(tokenizer):
    # Context turns: 2 tag tokens + 3 words = 5 tokens; target: 2 + 4 = 6; [CLS] + [SEP] = 2.
    w = window("t u v w", before=["a b c", "d e f", "g h i"], after=["j k l", "m n o", "p r s"])
    full = encode(tokenizer, w, max_tokens=2 + 6 + 6 * 5)
    assert not full.truncated
    # Room for three context turns: the nearest before (g h i), the nearest after (j k l), then the
    # next before (d e f); the farthest turns on both sides go first.
    e = encode(tokenizer, w, max_tokens=2 + 6 + 3 * 5)
    assert tokenizer.decode(e.input_ids.tolist(), skip_special_tokens=True).split() == \
        ["seeker", ":", "d", "e", "f", "seeker", ":", "g", "h", "i", "supporter", ":", "t", "u", "v", "w",
         "seeker", ":", "j", "k", "l"]
    assert e.truncated and len(e.input_ids) == 2 + 6 + 3 * 5
    assert masked_ids(e) == ids(tokenizer, "t u v w")


def test_partly_kept_context_keeps_its_near_end(tokenizer):
    w = window("t u v w", before=["a b c", "d e f"], after=["j k l", "m n o"])
    # After nearest before + nearest after (10 tokens), 4 tokens are left: the tag + 2 words of
    # the next before turn, keeping its end (next to the scored turn).
    e = encode(tokenizer, w, max_tokens=2 + 6 + 10 + 4)
    kept = tokenizer.decode(e.input_ids.tolist(), skip_special_tokens=True).split()
    assert kept[:4] == ["seeker", ":", "b", "c"]
    # One more before turn than after turns: the partial one is on the after side, keeping its start.
    w = window("t u v w", before=["a b c", "d e f"], after=["j k l"])
    e = encode(tokenizer, w, max_tokens=2 + 6 + 15 + 4)      # both befores + 1 after fit, nothing else
    assert not e.truncated
    w = window("t u v w", before=["d e f"], after=["j k l", "m n o"])
    e = encode(tokenizer, w, max_tokens=2 + 6 + 10 + 4)
    kept = tokenizer.decode(e.input_ids.tolist(), skip_special_tokens=True).split()
    assert kept[-4:] == ["seeker", ":", "m", "n"] and e.truncated
    assert masked_ids(e) == ids(tokenizer, "t u v w")


def test_a_scrap_of_context_is_dropped(tokenizer):
    """Fewer than 4 tokens of room: no partial turn (a tag alone is noise)."""
    w = window("t u v w", before=["a b c"])
    e = encode(tokenizer, w, max_tokens=2 + 6 + 3)
    assert tokenizer.decode(e.input_ids.tolist(), skip_special_tokens=True).split() == \
        ["supporter", ":", "t", "u", "v", "w"]
    assert e.truncated


def test_scored_turn_longer_than_the_window_keeps_its_beginning(tokenizer):
    target = words("a", 24) + " " + words("a", 24) + " a b"      # 50 tokens
    e = encode(tokenizer, window(target, before=["x y a"], after=["x y a"]), max_tokens=20)
    budget = 20 - 2 - 2
    assert len(e.input_ids) == 20 and e.truncated
    assert masked_ids(e) == ids(tokenizer, target)[:budget]
    assert e.target_mask[:3].sum() == 0 and e.target_mask[3:19].sum() == budget and e.target_mask[19] == 0


def test_head_and_tail_of_a_long_scored_turn_with_target_tail(tokenizer):
    target = words("a", 24) + " " + words("a", 24) + " a b"      # 50 tokens
    e = encode(tokenizer, window(target, before=["x y a"]), max_tokens=20, target_tail=0.25)
    budget, tail = 20 - 2 - 2, 4                                  # round(16 * 0.25)
    token_ids = ids(tokenizer, target)
    assert len(e.input_ids) == 20 and e.truncated
    assert masked_ids(e) == token_ids[:budget - tail] + token_ids[-tail:]
    # A turn that fits is never cut, whatever the tail share.
    short = encode(tokenizer, window(words("a", 10)), max_tokens=20, target_tail=0.25)
    assert masked_ids(short) == ids(tokenizer, words("a", 10))


def test_target_tail_round_trips_and_defaults_to_head_only():
    settings = WindowSettings(max_tokens=64, target_tail=0.25)
    assert WindowSettings.from_dict(settings.to_dict()) == settings
    old_manifest = {k: v for k, v in settings.to_dict().items() if k != "target_tail"}
    assert WindowSettings.from_dict(old_manifest).target_tail == 0.0


def test_scored_turn_that_fills_the_window_leaves_out_all_context(tokenizer):
    target = words("a", 16)
    e = encode(tokenizer, window(target, before=["x y a"], after=["x y a"]), max_tokens=20)
    assert masked_ids(e) == ids(tokenizer, target) and len(e.input_ids) == 20 and e.truncated


def test_long_speaker_tags_never_overflow_the_window(tokenizer):
    """Regression: room >= 4 but smaller than the tag used to keep a whole turn (text_ids[-0:])."""
    settings = dict(agent_tag="supporter:", other_tag=words("a", 8))
    w = window("t u v w", before=[words("k", 10)], after=[words("k", 10)])
    for max_tokens in range(8, 24):
        e = encode(tokenizer, w, max_tokens=max_tokens, **settings)
        assert len(e.input_ids) <= max_tokens
        assert masked_ids(e) == ids(tokenizer, "t u v w")[:max_tokens - 4]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(target=st.integers(1, 40), before=st.lists(st.integers(1, 30), max_size=4),
       after=st.lists(st.integers(1, 30), max_size=4), max_tokens=st.integers(6, 80))
def test_any_window_fits_and_masks_its_target(tokenizer, target, before, after, max_tokens):
    w = window(words("a", target), before=[words("c", n) for n in before],
               after=[words("e", n) for n in after])
    e = encode(tokenizer, w, max_tokens=max_tokens)
    budget = max_tokens - 4
    assert len(e.input_ids) <= max_tokens
    assert masked_ids(e) == ids(tokenizer, words("a", target))[:budget]
    fits = 2 + 2 + target + sum(2 + n for n in before + after) <= max_tokens
    assert bool(e.truncated) == (not fits)
    # which part was cut: context is filled nearest first, alternating sides; the first turn that
    # does not fit and every farther one are cut (pipeline/encoding.cut_parts names them)
    room, cut = budget - min(target, budget), {"turn"} if target > budget else set()
    order = [(side, n) for k in range(max(len(before), len(after)))
             for side, turns in (("context_before", before[::-1]), ("context_after", after)) if k < len(turns)
             for n in [turns[k]]]
    for k, (side, n) in enumerate(order):
        if 2 + n > room:
            cut |= {s for s, _ in order[k:]}
            break
        room -= 2 + n
    assert set(cut_parts(e.truncated)) == cut and len(cut_parts(e.truncated)) == len(cut)
    if fits:
        assert len(e.input_ids) == 4 + target + sum(2 + n for n in before + after)


def test_encoder_reuses_token_ids_of_repeated_texts(tokenizer):
    ws = [window("a b", before=["c d"]), window("c d", before=["a b"])]
    e = WindowEncoder(tokenizer, WindowSettings(max_tokens=32)).encode(ws)
    assert masked_ids(e[0]) == ids(tokenizer, "a b") and masked_ids(e[1]) == ids(tokenizer, "c d")


@settings(max_examples=60, deadline=None)
@given(lengths=st.lists(st.integers(1, 60), min_size=1, max_size=40), budget=st.integers(1, 400),
       max_rows=st.integers(1, 9), min_rows=st.sampled_from([1, 2]))
def test_length_sorted_batches_cover_every_window_once(lengths, budget, max_rows, min_rows):
    from empathy_metric.pipeline.encoding import EncodedWindow
    encoded = [EncodedWindow(np.arange(n, dtype=np.int64) + 5, np.ones(n, dtype=np.float32), False)
               for n in lengths]
    seen = []
    for batch in length_sorted_batches(encoded, budget, max_rows, pad_id=0, min_rows=min_rows):
        rows = len(batch.positions)
        unique = list(dict.fromkeys(batch.positions.tolist()))
        seen += unique
        assert rows >= min_rows and len(unique) <= max_rows
        if len(unique) > 1:
            assert batch.input_ids.size <= budget
        assert batch.input_ids.shape == batch.attention_mask.shape == batch.target_mask.shape
        for row, i in enumerate(batch.positions):
            n = lengths[i]
            assert batch.input_ids[row, :n].tolist() == encoded[i].input_ids.tolist()
            assert batch.attention_mask[row].sum() == n and batch.input_ids[row, n:].sum() == 0
        assert batch.input_ids.shape[1] == max(lengths[i] for i in batch.positions)
    assert sorted(seen) == list(range(len(lengths)))


def test_dialogue_windows():
    turns = [Turn("system", "x", 0), Turn("user", "u1", 1), Turn("assistant", "a1", 2), Turn("user", "u2", 3),
             Turn("assistant", "a2", 4), Turn("user", "u3", 5), Turn("user", "u4", 6)]
    d = Dialogue("d", [t for t in turns if t.role != "system"])
    ws = dialogue_windows(d, WindowSettings(turns_before=1, turns_after=2), DEFAULT_AGENT_ROLES)
    assert [(w.turn_index, w.target) for w in ws] == [(2, "a1"), (4, "a2")]
    assert [c.text for c in ws[0].before] == ["u1"] and [c.text for c in ws[0].after] == ["u2", "a2"]
    assert [c.is_agent for c in ws[0].after] == [False, True]
    live = dialogue_windows(d, WindowSettings(turns_before=3).without_future(), DEFAULT_AGENT_ROLES)
    assert [c.text for c in live[1].before] == ["u1", "a1", "u2"] and live[1].after == ()


@pytest.mark.parametrize("target_tail", [0.0, 0.25])
def test_a_turn_cut_before_tokenising_gives_the_window_of_the_whole_turn(tokenizer, monkeypatch, target_tail):
    """Turns beyond the character budget (max_tokens * CHARS_PER_TOKEN at each end) are cut before
    the tokenizer sees them; the window is the same as from the whole turn: the scored turn's
    beginning (and end), the previous turn's end, the next turn's beginning."""
    from empathy_metric.pipeline import encoding
    long_text = " ".join(words(letter, 20) for letter in LETTERS) * 200       # ~190k characters
    assert len(long_text) > 2 * 64 * encoding.CHARS_PER_TOKEN
    ws = [window(long_text, before=["a b", long_text[::-1]], after=[long_text]),
          window("sorry", before=[long_text], after=[long_text[::-1], "c d"])]
    settings = WindowSettings(max_tokens=64, target_tail=target_tail)
    cut = WindowEncoder(tokenizer, settings).encode(ws)
    monkeypatch.setattr(encoding, "CHARS_PER_TOKEN", 10 ** 9)                 # tokenise whole turns
    whole = WindowEncoder(tokenizer, settings).encode(ws)
    for a, b in zip(cut, whole):
        assert a.input_ids.tolist() == b.input_ids.tolist() and a.truncated and b.truncated
        assert a.target_mask.tolist() == b.target_mask.tolist()
