"""empathy-metric: expressed and perceived empathy of dialogue responses (Xu & Jiang), offline and fast.

Imports are lazy so that `empathy-score --help` and `import empathy_metric` stay instant.
"""
from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["Scorer", "ScoreResult", "EVALUATE_MODULE", "__version__"]


def __getattr__(name):
    if name in ("Scorer", "ScoreResult"):
        from . import api
        return getattr(api, name)
    if name == "EVALUATE_MODULE":
        from .evaluate_path import evaluate_module_path
        return evaluate_module_path()
    raise AttributeError(name)
