"""The Hugging Face `evaluate` metric: the loadable script lives in `empathy_metric/` beside this file
(see `empathy_metric.evaluate_path`); the work it does lives here, inside the installed package."""
