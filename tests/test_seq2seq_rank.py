"""Seq2seq rank classification on tiny local models: instructions, scores, training."""
from __future__ import annotations

import numpy as np
import pytest

from test_seq2seq_builders import build_tiny_bert_base, build_tiny_t5, labelled_windows


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Tiny models run fastest on one thread (and do not fight other jobs for cores)."""
    import torch
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def t5_folder(tmp_path_factory):
    return build_tiny_t5(tmp_path_factory.mktemp("t5"))


@pytest.fixture(scope="module")
def bert_folder(tmp_path_factory):
    return build_tiny_bert_base(tmp_path_factory.mktemp("bert"))


def make_recipe(base, instructions=True, perceived=(), **train):
    from empathy_metric.pipeline.windows import WindowSettings
    from empathy_metric.schemas import DEFAULT_TASKS
    from empathy_metric.training.loop import TrainConfig
    from empathy_metric.training.seq2seq.recipe import Seq2SeqRecipe
    config = TrainConfig(device="cpu", **train)
    return Seq2SeqRecipe(str(base), list(DEFAULT_TASKS), list(perceived), config, WindowSettings(max_tokens=64),
                         instructions=instructions, log=lambda message: None)


def test_every_schema_task_has_a_four_part_instruction():
    from empathy_metric.runtime.seq2seq.prompts import build_prompts, load_instructions
    from empathy_metric.schemas import (CUSTOMER_SERVICE_INTENTS, DEFAULT_TASKS, PERCEIVED_DIMENSIONS,
                                        customer_service_task)
    library = load_instructions()
    tasks = list(DEFAULT_TASKS) + [customer_service_task(i) for i in CUSTOMER_SERVICE_INTENTS]
    prompts = build_prompts(tasks, list(PERCEIVED_DIMENSIONS))
    assert len(prompts) == 8 + 3 + 16 + len(PERCEIVED_DIMENSIONS)   # ESConv as 8 yes/no prompts, as in the paper
    for p in prompts:
        entry = library["prompts"][p.name]
        assert all(entry[part].strip() for part in ("task", "definition", "domain", "options"))
        assert entry["task"] in p.before and entry["definition"] in p.before
        assert library["domains"][entry["domain"]] in p.before and entry["options"] in p.after
    kinds = {p.name: (p.kind, p.verbalisers) for p in prompts}
    assert kinds["esconv_strategy:Others"] == ("label", ("no", "yes"))
    assert kinds["emh_explorations"] == ("task", ("none", "weak", "strong"))
    assert kinds["cs_express_apology"] == ("task", ("no", "yes"))
    assert kinds["perceived:helpfulness"] == ("perceived", ("no", "yes"))
    bare = build_prompts(tasks, list(PERCEIVED_DIMENSIONS), instructions=False)
    assert [p.before for p in bare][:2] == ["esconv question:", "esconv restatement:"]
    assert all(p.after == "" for p in bare)


def test_a_task_without_instructions_is_a_clear_error():
    from empathy_metric.errors import ModelError
    from empathy_metric.runtime.seq2seq.prompts import build_prompts
    from empathy_metric.schemas import Task
    with pytest.raises(ModelError, match="no seq2seq instruction for task 'made_up'"):
        build_prompts([Task("made_up", ("a", "b"))], [])


@pytest.mark.parametrize("family", ["t5", "warm-started encoder-decoder"])
def test_one_step_scores_equal_the_full_teacher_forced_log_likelihood(family, t5_folder, bert_folder):
    import torch

    from empathy_metric.pipeline.encoding import pad_batch
    from empathy_metric.training.seq2seq.torch_scoring import pair_scores
    recipe = make_recipe(t5_folder if family == "t5" else bert_folder, perceived=("empathy",))
    windows = [x.window for x in labelled_windows(2, 1)[0]]
    encoded = recipe.pairs.encode(windows)
    plan, model = recipe.plan, recipe.model.eval()
    assert {plan.single_token(p) for p in range(len(plan.prompts))} == {True, False}   # both paths
    batch = pad_batch(encoded.pairs, np.arange(len(encoded.pairs)), plan.pad_token_id)
    with torch.no_grad():
        scores = pair_scores(model, torch.from_numpy(batch.input_ids), torch.from_numpy(batch.attention_mask),
                             plan.decoder_batch(encoded.pair_prompt), plan.max_labels).numpy()
        for k, pair in enumerate(encoded.pairs):       # one unpadded pair at a time, HF's own loss
            for label, tokens in enumerate(plan.verbaliser_ids[encoded.pair_prompt[k]]):
                out = model(input_ids=torch.from_numpy(pair.input_ids)[None], labels=torch.tensor([tokens]))
                assert scores[k, label] == pytest.approx(-out.loss.item() * len(tokens), abs=1e-4)


def test_overfits_twenty_examples(t5_folder):
    """20 labelled windows (ESConv strategies as 8 yes/no prompts, EMH levels): rank classification
    gets every label right. Short task tags instead of full instructions keep the inputs ~8x
    shorter; training with instructions runs in test_seq2seq_cli."""
    from empathy_metric.schemas import DEFAULT_TASKS
    labelled, _ = labelled_windows(10, 10)

    def accuracy(outputs, rows):
        hits = [outputs[f"logits.{t}"][i].argmax() == gold
                for i, x in enumerate(rows) for t, gold in x.labels.items()]
        return float(np.mean(hits))

    recipe = make_recipe(t5_folder, instructions=False, lr=3e-3, batch_size=16, epochs=30, patience=30,
                         warmup_fraction=0.02)
    before = accuracy(recipe.predict([x.window for x in labelled]), labelled)
    history = recipe.fit(labelled, labelled, accuracy)
    outputs = recipe.predict([x.window for x in labelled])
    assert accuracy(outputs, labelled) == 1.0, (before, history["best_valid_score"])
    assert before < 0.7
    assert set(outputs) == {f"logits.{t.name}" for t in DEFAULT_TASKS}


def test_perceived_prompts_learn_soft_targets(t5_folder):
    """P(yes) of a perceived prompt is trained against the 0..1 survey target (soft BCE)."""
    labelled, _ = labelled_windows(4, 0)
    for x, target in zip(labelled, (0.1, 0.9, 0.25, 0.75)):
        x.perceived[:] = [target, np.nan]
        x.labels.clear()
    recipe = make_recipe(t5_folder, perceived=("empathy", "helpfulness"), lr=1e-2, batch_size=4,
                         epochs=80, patience=80)
    recipe.fit(labelled, [], lambda outputs, rows: 0.0)
    perceived = recipe.predict([x.window for x in labelled])["perceived"]
    assert np.abs(perceived[:, 0] - [0.1, 0.9, 0.25, 0.75]).max() < 0.08
