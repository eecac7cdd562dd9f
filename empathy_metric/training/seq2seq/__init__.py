"""The seq2seq architecture's training side (extra `train`): models and checkpoints, the recipe, the
pair loss, torch scoring and zero-shot prompting. Scoring a seq2seq bundle on ONNX Runtime lives in
`empathy_metric.runtime.seq2seq`."""
