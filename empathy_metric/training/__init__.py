"""Training and evaluation (extra `train`): data and splits, recipe files (`config.py`, `recipes/`),
the one training loop (`loop.py`) and the encoder and seq2seq recipes, the torch backends the
runtime's registry names, and the commands `train`, `cv`, `cv-merge`, `average`, `eval` and
`zero-shot` (`commands.py`). The scoring packages never import this one (import-linter checks it)."""
