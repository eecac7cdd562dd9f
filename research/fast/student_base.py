"""The starting point of a smaller student: a trained checkpoint's encoder with only its bottom layers.

Dropping the top layers of a pretrained or fine-tuned BERT-family encoder and fine-tuning again keeps
most of its quality (Sajjad et al., 2020, "On the effect of dropping layers of pre-trained transformer
models": top-layer dropping was the best strategy they measured). The result is a base model folder
that `empathy-score train --set base_model=DIR` reads (config.json, model.safetensors, tokenizer.json).

Usage: python research/fast/student_base.py CHECKPOINT OUT_DIR [LAYERS]
  CHECKPOINT: a trained encoder checkpoint (runs/v4b: encoder/ and tokenizer.json)
  LAYERS: how many bottom layers to keep (3)
"""
import shutil
import sys
from pathlib import Path


def main(checkpoint: Path, out_dir: Path, layers: int) -> None:
    import torch
    from transformers import AutoModel
    encoder = AutoModel.from_pretrained(checkpoint / "encoder", local_files_only=True)
    kept = encoder.encoder.layer[:layers]
    encoder.encoder.layer = torch.nn.ModuleList(kept)
    encoder.config.num_hidden_layers = layers
    encoder.save_pretrained(out_dir, safe_serialization=True)
    shutil.copy(checkpoint / "tokenizer.json", out_dir / "tokenizer.json")
    print(f"{out_dir}: {layers} of the encoder's layers, "
          f"{sum(p.numel() for p in encoder.parameters()) / 1e6:.1f}M parameters")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 3)
