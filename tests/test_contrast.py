"""The perceived head's ranking pairs (training/contrast.py): which turns get worse and padded
replies, by data set (`contrast_sources`), and which worse replies (`contrast_kinds`)."""
import numpy as np
import pytest

pytest.importorskip("torch")

from empathy_metric.dialogue import Dialogue, Turn                      # noqa: E402
from empathy_metric.pipeline.encoding import WindowEncoder, load_tokenizer  # noqa: E402
from empathy_metric.pipeline.windows import WindowSettings, dialogue_windows  # noqa: E402
from empathy_metric.training.contrast import attach_contrasts          # noqa: E402
from empathy_metric.training.data import LabelledWindow, encode_examples  # noqa: E402

AGENTS = frozenset({"supporter"})


def labelled(source: str, n: int) -> list[LabelledWindow]:
    found = []
    for d in range(n):
        turns = [Turn("seeker", f"I lost my job number {d} and feel awful.", 0),
                 Turn("supporter", f"I am so sorry to hear about job {d}, that sounds really hard for you.", 1)]
        window = dialogue_windows(Dialogue(f"{source}-{d}", turns), WindowSettings(), AGENTS)[0]
        found.append(LabelledWindow(window, {}, np.array([0.8, np.nan], dtype=np.float32), f"{source}-{d}", source))
    return found


@pytest.mark.parametrize("sources, expected", [(("esconv", "wassa"), {"esconv", "wassa"}), (("esconv",), {"esconv"})])
def test_only_the_named_data_sets_get_ranking_pairs(tiny_bundle, sources, expected):
    encoder = WindowEncoder(load_tokenizer(tiny_bundle / "tokenizer.json"), WindowSettings())
    windows = labelled("esconv", 4) + labelled("wassa", 4)
    examples = encode_examples(windows, encoder)
    assert attach_contrasts(examples, windows, encoder, seed=1, empathy_column=0, sources=sources) == 4 * len(expected)
    for example in examples:
        has_pairs = example.padded is not None and bool(example.contrast)
        assert has_pairs == (example.source in expected)


def test_stock_lines_are_worse_replies_when_the_recipe_names_them(tiny_bundle):
    from empathy_metric.training.perturbations import GENERIC_SYMPATHY, with_target
    encoder = WindowEncoder(load_tokenizer(tiny_bundle / "tokenizer.json"), WindowSettings())
    windows = labelled("esconv", 3)
    examples = encode_examples(windows, encoder)
    kinds = ("curt", "generic_sympathy")
    assert attach_contrasts(examples, windows, encoder, seed=1, empathy_column=0, kinds=kinds) == 3
    stock = {tuple(e.input_ids) for e in encoder.encode([with_target(w.window, line) for w in windows
                                                         for line in GENERIC_SYMPATHY["train"]])}
    for example in examples:
        assert len(example.contrast) == 2                    # one curt reply, one stock line
        assert sum(tuple(c.input_ids) in stock for c in example.contrast) == 1
