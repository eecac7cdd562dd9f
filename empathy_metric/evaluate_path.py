"""Where the `evaluate` metric module ships: `evaluate.load(empathy_metric.EVALUATE_MODULE)`.

Kept apart from the module itself so that finding the path imports nothing heavy."""
from __future__ import annotations

from pathlib import Path


def evaluate_module_path() -> str:
    """The folder holding `empathy_metric.py` (evaluate needs folder name == script name)."""
    return str(Path(__file__).resolve().parent / "evaluate_module" / "empathy_metric")
