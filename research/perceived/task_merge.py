"""Weight-space merges of the multi-task model with a WASSA-only specialist, both fine-tuned from
all-MiniLM-L6-v2 (research/notes/perceived-wassa.md: sharing the encoder with ESConv and EMH costs
~0.1 of WASSA dev r; a specialist alone reaches 0.64-0.66).

Two merges of the encoder, heads of the expressed tasks always the multi-task model's:
- interpolation (WiSE-FT, Wortsman et al. 2022): (1 - a) * multi + a * specialist; the perceived
  `empathy` row interpolated the same way;
- task arithmetic (Ilharco et al. 2023): multi + l * (specialist - base); `empathy` row taken from
  either model.
Every candidate is scored on the training run's own validation split (mean of ESConv F1, EMH F1 and
WASSA r, the early-stopping score); nothing here reads a held-out set. `--save` writes the chosen
merge, calibrated afresh and evaluated on the held-out sets by the product's `run_experiment`.

    python research/perceived/task_merge.py MULTI SPECIALIST [--save OUT --pick NAME]

SPECIALIST is a checkpoint, or a bare encoder folder (`wassa_ceiling.py --save`): then only task
arithmetic with the multi-task model's heads is tried.
"""
from __future__ import annotations

import argparse
import copy
import json
from pathlib import Path

import torch

from empathy_metric.training.encoder_recipe import EncoderRecipe
from empathy_metric.training.experiment import default_splits, evaluate_outputs, run_experiment, validation_score
from empathy_metric.training.model import CONFIG_FILE, build_model, checkpoint_config, load_checkpoint

EMPATHY_ROW = 0


def merged(multi, specialist, base_state, mode: str, weight: float, head: str):
    """A copy of `multi` with its encoder merged with `specialist`'s and a chosen `empathy` row."""
    model = copy.deepcopy(multi)
    m, s = multi.encoder.state_dict(), specialist.encoder.state_dict()
    state = {}
    for name, value in m.items():
        if not value.is_floating_point():
            state[name] = value
        elif mode == "interp":
            state[name] = (1 - weight) * value + weight * s[name]
        else:
            state[name] = value + weight * (s[name] - base_state[name])
    model.encoder.load_state_dict(state)
    with torch.no_grad():
        for part in ("weight", "bias") if head != "multi" else ():
            mine, theirs = getattr(model.perceived, part), getattr(specialist.perceived, part)
            if head == "interp":
                mine[EMPATHY_ROW] = (1 - weight) * mine[EMPATHY_ROW] + weight * theirs[EMPATHY_ROW]
            elif head == "specialist":
                mine[EMPATHY_ROW] = theirs[EMPATHY_ROW]
    return model


def candidates(has_head: bool):
    yield "multi", ("interp", 0.0, "multi")
    for a in (0.3, 0.5, 0.7) if has_head else ():
        yield f"interp-{a}", ("interp", a, "interp")
    for lam in (0.3, 0.5, 0.7, 1.0):
        for head in ("multi", "specialist") if has_head else ("multi",):
            yield f"add-{lam}-{head}", ("add", lam, head)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("multi", type=Path)
    parser.add_argument("specialist", type=Path)
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument("--save", type=Path, help="calibrate, evaluate and save --pick here")
    parser.add_argument("--pick", help="candidate name to save (default: the best on validation)")
    args = parser.parse_args()
    recipe = EncoderRecipe.averaged([str(args.multi)])      # one checkpoint: itself, uncalibrated
    multi, config = recipe.model, checkpoint_config(args.multi)
    has_head = (args.specialist / CONFIG_FILE).exists()
    specialist = load_checkpoint(args.specialist)[0] if has_head else build_model(str(args.specialist), {}, 0)
    base_state = build_model(config["base_model"], {}, 0).encoder.state_dict()
    splits = default_splits(args.data, recipe.settings)
    tasks = recipe.tasks
    score = validation_score(tasks)
    results = {}
    for name, (mode, weight, head) in candidates(has_head):
        if args.pick and args.save and name != args.pick:
            continue
        recipe.model = merged(multi, specialist, base_state, mode, weight, head)
        outputs = recipe.predict([x.window for x in splits.valid])
        report = evaluate_outputs(tasks, outputs, splits.valid)
        results[name] = {"score": score(outputs, splits.valid),
                         **{k: v["f1"] for k, v in report["means"].items()},
                         **report.get("perceived_turn_pearson", {})}
        print(json.dumps({"candidate": name, **results[name]}), flush=True)
        if args.save:
            run_experiment(recipe, splits, str(args.save), history={"merged": {
                "multi": str(args.multi), "specialist": str(args.specialist), "mode": mode, "weight": weight,
                "empathy_head": head, "validation": results[name]}}, recipe_values=config.get("recipe"))
            return
    best = max(results, key=lambda k: results[k]["score"])
    print(json.dumps({"best_on_validation": best, **results[best]}))


if __name__ == "__main__":
    main()
