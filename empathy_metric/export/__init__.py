"""Export trained checkpoints to ONNX model bundles (extra `export`). The scorer never imports this."""
