"""empathy-metric: expressed and perceived empathy of dialogue responses (Xu & Jiang), offline and fast.

Imports are lazy so that `empathy-score --help` and `import empathy_metric` stay instant. The API
lives in `empathy_metric.api`; "How the code is organised" in README.md maps the packages.
"""
from __future__ import annotations

from .version import __version__

__all__ = ["Scorer", "ScoreResult", "score_files", "compare_files", "score_responses", "EVALUATE_MODULE",
           "__version__"]


def __getattr__(name):
    if name in ("Scorer", "ScoreResult", "score_files", "compare_files", "score_responses"):
        from . import api
        return getattr(api, name)
    if name == "EVALUATE_MODULE":
        from .evaluate_module import module_path
        return module_path()
    raise AttributeError(name)
