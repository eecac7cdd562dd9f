"""The auxiliary EPITOME rationale loss: token labels line up with the scored turn, the head learns."""
import math

import numpy as np
import torch

from builders import build_data_dir, build_encoder_with_tokenizer
from empathy_metric.pipeline.windows import WindowSettings
from empathy_metric.schemas import DEFAULT_TASKS, PERCEIVED_DIMENSIONS
from empathy_metric.training.data import emh_windows, encode_examples
from empathy_metric.training.encoder_recipe import EncoderRecipe
from empathy_metric.training.experiment import validation_score
from empathy_metric.training.loop import TrainConfig, rationale_loss, to_tensors
from empathy_metric.training.model import HEADS_FILE
from empathy_metric.training.rationales import RATIONALE_TASKS, token_rationale_labels


def test_token_labels_mark_rationale_spans_by_hand():
    text = "i am sorry to hear that"
    offsets = [(0, 1), (2, 4), (5, 10), (11, 13), (14, 18), (19, 23)]
    labels = {"emh_emotional_reactions": 2, "emh_interpretations": 0}
    out = token_rationale_labels(offsets, text, labels, {"emh_emotional_reactions": "sorry to hear|not in text|"})
    assert out[:, 0].tolist() == [0, 0, 1, 1, 1, 0]
    assert out[:, 1].tolist() == [0] * 6               # level 0: no rationale anywhere
    assert np.isnan(out[:, 2]).all()                  # no label for explorations: unknown
    # A level above 0 whose span cannot be found is unknown, not "no rationale".
    missing = token_rationale_labels(offsets, text, {"emh_explorations": 1}, {"emh_explorations": "absent"})
    assert missing is None


def test_rationale_labels_follow_a_head_and_tail_cut(tmp_path):
    from empathy_metric.pipeline.windows import Window
    from empathy_metric.training.data import LabelledWindow
    base = build_encoder_with_tokenizer(tmp_path / "base")
    recipe = EncoderRecipe(str(base), list(DEFAULT_TASKS), list(PERCEIVED_DIMENSIONS), TrainConfig(device="cpu"),
                           WindowSettings(max_tokens=24, target_tail=0.5), log=lambda m: None)
    # A reply too long for the window whose only evidence is its last words.
    target = " ".join(["fine"] * 40 + ["sorry", "to", "hear"])
    window = Window(dialogue_id="d", turn_index=1, role="assistant", target=target, before=(), after=())
    lw = LabelledWindow(window, {"emh_emotional_reactions": 2}, np.full(3, np.nan), "d", "emh",
                        {"emh_emotional_reactions": "sorry to hear"})
    example = encode_examples([lw], recipe.encoder)[0]
    assert len(example.rationale) == int(example.encoded.target_mask.sum())
    kept_ids = example.encoded.input_ids[example.encoded.target_mask == 1]
    tagged_ids = kept_ids[example.rationale[:, 0] == 1]
    words = recipe.encoder.tokenizer.decode(tagged_ids.tolist())
    assert words == "sorry to hear"                     # the evidence survived the cut, and is tagged


def test_rationale_labels_align_with_the_scored_turn_and_the_head_learns(tmp_path):
    base = build_encoder_with_tokenizer(tmp_path / "base")
    data = build_data_dir(tmp_path / "data", dialogues=5)
    settings = WindowSettings(max_tokens=64)
    # Weight 5: with weight 1 this tiny random encoder learned the tags in only some runs (the
    # classification losses dominate); the test is about the token loss, so let it lead.
    config = TrainConfig(epochs=40, batch_size=10, lr=3e-3, head_lr=1e-2, patience=100, warmup_fraction=0.0,
                         device="cpu", rationale_weight=5.0)
    recipe = EncoderRecipe(str(base), list(DEFAULT_TASKS), list(PERCEIVED_DIMENSIONS), config, settings,
                           log=lambda m: None)
    labelled = emh_windows(str(data / "emh"), settings)
    examples = encode_examples(labelled, recipe.encoder)
    # "i am sorry to hear that ..." at level 1 or 2 has its first three words as the rationale.
    tagged = [e for e, lw in zip(examples, labelled) if lw.labels["emh_emotional_reactions"] > 0]
    for e in tagged:
        assert len(e.rationale) == int(e.encoded.target_mask.sum())
        assert e.rationale[:3, 0].tolist() == [1, 1, 1] and e.rationale[3:, 0].sum() == 0

    def loss_and_accuracy():
        recipe.model.eval()
        with torch.no_grad():
            inputs = to_tensors([e.encoded for e in examples], "cpu")
            _, token_logits = recipe.model.forward_with_rationale(**inputs)
            loss = rationale_loss(token_logits, inputs["target_mask"], examples).item()
        hits = []
        for row, e in enumerate(examples):
            if e.rationale is not None:
                positions = np.nonzero(e.encoded.target_mask)[0][:len(e.rationale)]
                predicted = (token_logits[row, positions].numpy() > 0).astype(np.float32)
                known = ~np.isnan(e.rationale)
                hits += list(predicted[known] == e.rationale[known])
        return loss, float(np.mean(hits))

    before, _ = loss_and_accuracy()
    recipe.fit(labelled, labelled, validation_score(recipe.tasks))
    after, accuracy = loss_and_accuracy()
    assert math.isfinite(before) and after < 0.6 * before
    assert accuracy > 0.9          # the tagged words are found, not just the majority "outside"
    # Training-only: the saved checkpoint (and so every export) has no rationale weights.
    recipe.save(tmp_path / "ckpt", {})
    from safetensors.torch import load_file
    assert not any("rationale" in k for k in load_file(str(tmp_path / "ckpt" / HEADS_FILE)))
    assert len(RATIONALE_TASKS) == recipe.model.rationale.out_features
