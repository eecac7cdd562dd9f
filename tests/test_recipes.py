"""Training recipes are files: default.toml holds every key, a recipe changes some, --set one; unknown
keys and wrong values are usage errors naming the key and where it came from."""
import re

import pytest

from empathy_metric.errors import UsageError
from empathy_metric.training.config import (DEFAULT_RECIPE, load_recipe, shipped_recipes, train_config,
                                            window_settings)


def test_defaults_are_the_default_recipe():
    values = load_recipe()
    config, settings = train_config(values), window_settings(values)
    assert (values["arch"], values["data_sets"], values["calibration"]) == ("encoder", ["esconv", "emh", "wassa"], "prior")
    assert (config.epochs, config.lr, config.head_lr, config.batch_size, config.seed) == (2, 8e-5, 5e-4, 16, 13)
    assert config.max_steps is None and config.distill_weight == 0.0       # no teachers: no distillation
    assert (config.wassa_repeat, config.contrast_sources) == (1, ("esconv", "wassa"))
    assert config.contrast_kinds == ("off_topic", "canned", "curt")
    assert train_config(load_recipe(None, ('contrast_kinds=["curt", "generic_sympathy"]',))).contrast_kinds == \
        ("curt", "generic_sympathy")
    assert (settings.max_tokens, settings.turns_before, settings.turns_after, settings.target_tail) == (128, 3, 3, 0.0)


@pytest.mark.parametrize("name", shipped_recipes())
def test_every_shipped_recipe_loads(name):
    assert load_recipe(name)["arch"] == "encoder"


def test_a_recipe_file_then_set_then_options_override_in_that_order(tmp_path):
    recipe = tmp_path / "r.toml"
    recipe.write_text('epochs = 5\nrationale_weight = 0.5\nteachers = ["runs/t"]\n')
    values = load_recipe(str(recipe), ("epochs=7", "base_model=/models/x", "lr=1"), seed=3, device=None)
    assert (values["epochs"], values["rationale_weight"], values["base_model"], values["lr"], values["seed"]) == \
        (7, 0.5, "/models/x", 1.0, 3)
    assert train_config(values).distill_weight == 0.5                 # teachers given: the recipe's weight
    assert load_recipe("minilm-empathy-v3-b")["rationale_weight"] == 0.5


@pytest.mark.parametrize("text, message", [
    ("epoch = 3\n", "r.toml: unknown key 'epoch'"),
    ("epochs = 'many'\n", "r.toml: 'epochs' must be a whole number"),
    ("loss = 'hinge'\n", "r.toml: 'loss' must be one of ce, focal, ldam"),
    ("data_sets = ['esconv', 'reddit']\n", "r.toml: 'data_sets' must list data sets of esconv, emh, wassa"),
    ("target_tail = 1.5\n", "r.toml: 'target_tail' is a share in [0, 1)"),
    ("contrast_sources = ['emh']\n", "r.toml: 'contrast_sources' must list data sets of esconv, wassa"),
    ("contrast_kinds = ['rude']\n", "r.toml: 'contrast_kinds' must list worse replies of off_topic, canned, curt, "
                                     "generic_sympathy, generic_questions"),
    ("contrast_kinds = []\n", "r.toml: 'contrast_kinds' must list worse replies of"),
    ("epochs = \n", "r.toml: not valid TOML"),
])
def test_bad_recipes_name_the_key_and_the_file(tmp_path, text, message):
    (tmp_path / "r.toml").write_text(text)
    with pytest.raises(UsageError, match=re.escape(message)):
        load_recipe(str(tmp_path / "r.toml"))


def test_bad_overrides_and_missing_recipes():
    with pytest.raises(UsageError, match="--set epochs: expected KEY=VALUE"):
        load_recipe(None, ("epochs",))
    with pytest.raises(UsageError, match="--set pooling=mean: 'pooling' must be one of target, target"):
        load_recipe(None, ("pooling=mean",))
    with pytest.raises(UsageError, match=r"--config nope: no such recipe file \(shipped recipes: default"):
        load_recipe("nope")
    assert DEFAULT_RECIPE.name == "default.toml"
