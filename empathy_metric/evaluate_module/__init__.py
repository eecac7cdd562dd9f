"""The Hugging Face `evaluate` metric: the loadable script lives in `empathy_metric/` beside this file,
the work it does in `responses.py` (through `empathy_metric.api.score_responses`).

This file imports nothing: finding the script's folder must stay free of heavy imports."""
from pathlib import Path


def module_path() -> str:
    """The folder holding `empathy_metric.py` (`evaluate.load` needs folder name == script name):
    `evaluate.load(empathy_metric.EVALUATE_MODULE)`."""
    return str(Path(__file__).resolve().parent / "empathy_metric")
