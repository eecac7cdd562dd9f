"""The default data splits, all by dialogue, seeded hashes independent of file order:
- ESConv train.json: 90% training, 10% validation (early stopping, calibration);
- EMH pairs: 15% held out for reporting (grouped by seeker post), the rest split 90/10 like ESConv;
- ESConv valid.json: reporting only;
- WASSA 2023 train file: 90% training, 10% validation (by conversation); its dev file: reporting only;
and the dialogue-level k folds of cross-validation."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..pipeline.windows import WindowSettings
from ..schemas import PERCEIVED_DIMENSIONS, Task
from .data import LabelledWindow, emh_windows, esconv_windows, holdout_split, kfold_splits
from .wassa import wassa_windows


EMH_TEST_FRACTION, VALID_FRACTION, SPLIT_SEED = 0.15, 0.10, 2026
# The validation split must use its own seed: with SPLIT_SEED, every EMH pair kept for training has
# a hash >= 0.15, so none fell under 0.10 and validation held no EMH pair (minilm-empathy-v1 was
# trained that way; `--valid-split-seed 2026` reproduces it).
VALID_SPLIT_SEED = 2027
GROUPS = {"ESConv": ["esconv_strategy"],
          "EMH": ["emh_emotional_reactions", "emh_interpretations", "emh_explorations"],
          "WASSA": []}                              # WASSA labels perceived empathy only
DATA_SETS = {"esconv": "ESConv", "emh": "EMH", "wassa": "WASSA"}   # LabelledWindow.source -> its group

@dataclass
class DataSplits:
    train: list[LabelledWindow]
    valid: list[LabelledWindow]
    tests: dict[str, list[LabelledWindow]]      # report name -> held-out windows


def default_splits(data_dir: str, settings: WindowSettings, valid_seed: int = VALID_SPLIT_SEED,
                   sources=tuple(DATA_SETS), log=None) -> DataSplits:
    """The default splits of the data sets in `sources`. Splits hash groups, so a data set keeps the
    same train/validation/test windows whether or not the other one is loaded too."""
    data = Path(data_dir)
    esconv = esconv_windows(str(data / "esconv" / "train.json"), settings) if "esconv" in sources else []
    emh, emh_test = holdout_split(emh_windows(str(data / "emh"), settings, log), EMH_TEST_FRACTION, SPLIT_SEED) \
        if "emh" in sources else ([], [])
    wassa = wassa_windows(data / "wassa23", "train", settings, list(PERCEIVED_DIMENSIONS)) \
        if "wassa" in sources else []
    train, valid = holdout_split(esconv + emh + wassa, VALID_FRACTION, valid_seed)
    tests = {}
    if "esconv" in sources:
        tests["esconv_valid"] = esconv_windows(str(data / "esconv" / "valid.json"), settings)
    if "emh" in sources:
        tests["emh_test"] = emh_test
    if "wassa" in sources:
        tests["wassa_dev"] = wassa_windows(data / "wassa23", "dev", settings, list(PERCEIVED_DIMENSIONS))
    return DataSplits(train, valid, tests)


def sources_of(task_names) -> list[str]:
    """The data sets that label any of these tasks (what a trained model can be evaluated on)."""
    names = set(task_names)
    return [source for source, group in DATA_SETS.items() if names & set(GROUPS[group])]


def tasks_of(tasks: list[Task], sources) -> list[Task]:
    """The tasks that the data sets in `sources` label (a model per data set, as in the paper)."""
    names = {name for source in sources for name in GROUPS[DATA_SETS[source]]}
    return [t for t in tasks if t.name in names]


def cv_windows(data_dir: str, settings: WindowSettings, sources=tuple(DATA_SETS), log=None) -> list[LabelledWindow]:
    """What cross-validation splits: ESConv train+valid and all EMH pairs (of the data sets in `sources`).
    Folds hash dialogue ids, so each data set's folds are the same with or without the other."""
    data = Path(data_dir)
    found = []
    if "esconv" in sources:
        found += (esconv_windows(str(data / "esconv" / "train.json"), settings)
                  + esconv_windows(str(data / "esconv" / "valid.json"), settings))
    if "emh" in sources:
        found += emh_windows(str(data / "emh"), settings, log)
    return found


def cv_fold_splits(labelled: list[LabelledWindow], k: int = 5, seed: int = SPLIT_SEED):
    """(fold, train, validation, test) for each fold: the split `cross_validate` trains and reports on."""
    for fold, (rest, test) in enumerate(kfold_splits(labelled, k, seed)):
        train, valid = holdout_split(rest, VALID_FRACTION, seed + fold + 1)
        yield fold, train, valid, test
