"""Export trained checkpoints to ONNX model bundles (extra `export`), validated against torch
(`validation.py`), and the `export` command. The scoring packages never import this one (import-linter
checks it)."""
