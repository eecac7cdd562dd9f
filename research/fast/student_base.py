"""The starting point of a smaller student: a trained checkpoint's encoder with only its bottom layers.

Dropping the top layers of a pretrained or fine-tuned BERT-family encoder and fine-tuning again keeps
most of its quality (Sajjad et al., 2020, "On the effect of dropping layers of pre-trained transformer
models": top-layer dropping was the best strategy they measured). The result is a base model folder
that `empathy-score train --set base_model=DIR` reads (config.json, model.safetensors, tokenizer.json).

`--ffn N` also narrows every kept layer's feed-forward block to its N most important hidden units
(structured pruning; importance = |input weights| x |output weights| of the unit, a first-order proxy
of what removing it changes): the FFN is 2/3 of a layer's MatMul work at MiniLM's widths.

Usage: python research/fast/student_base.py CHECKPOINT OUT_DIR [LAYERS] [--ffn N]
  CHECKPOINT: a trained encoder checkpoint (runs/v4b: encoder/ and tokenizer.json)
  LAYERS: how many bottom layers to keep (3)
"""
import argparse
import shutil
from pathlib import Path


def narrow_ffn(layer, width: int) -> None:
    """Keep the `width` most important hidden units of a BERT layer's feed-forward block."""
    import torch
    w_in, w_out = layer.intermediate.dense, layer.output.dense
    importance = w_in.weight.norm(dim=1) * w_out.weight.norm(dim=0)
    keep = torch.sort(torch.topk(importance, width).indices).values
    narrow_in = torch.nn.Linear(w_in.in_features, width)
    narrow_in.weight.data, narrow_in.bias.data = w_in.weight.data[keep].clone(), w_in.bias.data[keep].clone()
    narrow_out = torch.nn.Linear(width, w_out.out_features)
    narrow_out.weight.data, narrow_out.bias.data = w_out.weight.data[:, keep].clone(), w_out.bias.data.clone()
    layer.intermediate.dense, layer.output.dense = narrow_in, narrow_out


def main(checkpoint: Path, out_dir: Path, layers: int, ffn: int | None = None) -> None:
    import torch
    from transformers import AutoModel
    encoder = AutoModel.from_pretrained(checkpoint / "encoder", local_files_only=True)
    kept = encoder.encoder.layer[:layers]
    encoder.encoder.layer = torch.nn.ModuleList(kept)
    encoder.config.num_hidden_layers = layers
    if ffn:
        for layer in kept:
            narrow_ffn(layer, ffn)
        encoder.config.intermediate_size = ffn
    encoder.save_pretrained(out_dir, safe_serialization=True)
    shutil.copy(checkpoint / "tokenizer.json", out_dir / "tokenizer.json")
    print(f"{out_dir}: {layers} of the encoder's layers, "
          f"{sum(p.numel() for p in encoder.parameters()) / 1e6:.1f}M parameters")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("layers", type=int, nargs="?", default=3)
    parser.add_argument("--ffn", type=int, help="narrow each layer's feed-forward block to this many units")
    args = parser.parse_args()
    main(args.checkpoint, args.out_dir, args.layers, args.ffn)
