"""The stages every scoring path shares: windows, encoding, decoding, aggregation and accounting.
Numpy and tokenizers only; no model runtime, no files."""
