"""Instruction-finetuned seq2seq classifiers (the paper's Flan-T5 method): prompts, rank
classification, training recipe, ONNX export and backends. Heavy modules (recipe, export,
torch_backend, zero_shot) import torch/transformers lazily; onnx_backend never does."""
