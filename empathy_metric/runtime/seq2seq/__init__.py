"""Scoring with instruction-finetuned seq2seq classifiers (the paper's Flan-T5 method) on ONNX Runtime:
prompts, the tokenised prompt plan, (window, prompt) pairs and rank classification. Tokenizers +
onnxruntime + numpy; training, torch scoring and export live in `empathy_metric.training.seq2seq` and
`empathy_metric.export.seq2seq`."""
