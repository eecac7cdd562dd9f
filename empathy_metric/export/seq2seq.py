"""seq2seq checkpoint -> `onnx-seq2seq` bundle: Optimum's seq2seq exporter (task
text2text-generation without past: an encoder graph and a decoder graph), validated against torch
on real windows through the same rank-classification code, recorded in the manifest."""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from ..bundle import Bundle, write_manifest
from ..errors import ModelError
from ..pipeline.windows import Window, WindowSettings
from ..training.seq2seq.checkpoints import MODEL_DIR, load_model, read_config
from ..training.seq2seq.recipe import checkpoint_manifest
from .bundle_builder import _versions
from .validation import check_parity, parity

GRAPHS = {"encoder": "encoder_model.onnx", "decoder": "decoder_model.onnx"}
PARITY_BATCH_TOKENS, PARITY_BATCH_SIZE = 16384, 32


def export_seq2seq_bundle(checkpoint: str, out_dir: str, name: str, windows: list[Window],
                          quality: dict | None = None, card: str | None = None) -> dict:
    """Export, validate against torch on `windows`, write the bundle; returns the manifest."""
    from optimum.exporters.onnx import main_export
    ckpt, out = Path(checkpoint), Path(out_dir)
    config = read_config(ckpt)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        main_export(str(ckpt / MODEL_DIR), tmp, task="text2text-generation", do_validation=False,
                    no_post_process=True, library_name="transformers")
        files = {}
        for role, graph in GRAPHS.items():
            files.update(copy_graph(Path(tmp), graph, out, role))
    shutil.copy(ckpt / "tokenizer.json", out / "tokenizer.json")
    (out / "README.md").write_text(card or default_card(name, checkpoint, config), encoding="utf-8")
    files.update({"tokenizer": "tokenizer.json", "card": "README.md"})
    manifest = {**checkpoint_manifest(name, config), "backend": "onnx-seq2seq", "files": files,
                "runtime": {"precision": "fp32", "graphs": "Optimum text2text-generation, decoder without past",
                            "model_type": config.get("model_type")},
                "versions": _versions(), "quality": quality or {}}
    manifest["export_validation"] = validate(ckpt, out, manifest, windows)
    return write_manifest(out, manifest)


def copy_graph(src: Path, graph: str, out: Path, role: str) -> dict[str, str]:
    """Copy one graph into the bundle. Graphs over 2 GB come with external weights; they are
    re-saved as `<graph>.data`, a name the bundle loader accepts."""
    import onnx
    from onnx.external_data_helper import uses_external_data
    path = src / graph
    if not path.is_file():
        raise ModelError(f"Optimum's export wrote no {graph} (found: "
                         f"{', '.join(sorted(p.name for p in src.iterdir()))})")
    header = onnx.load(str(path), load_external_data=False)
    if not any(uses_external_data(t) for t in header.graph.initializer):
        shutil.copy(path, out / graph)
        return {role: graph}
    model = onnx.load(str(path))
    onnx.save_model(model, str(out / graph), save_as_external_data=True, all_tensors_to_one_file=True,
                    location=f"{graph}.data")
    return {role: graph, f"{role}_data": f"{graph}.data"}


def validate(ckpt: Path, out: Path, manifest: dict, windows: list[Window]) -> dict:
    """Torch (the checkpoint) vs ONNX Runtime (the new graphs) on the same windows, same batching."""
    from ..pipeline.encoding import load_tokenizer
    from ..runtime.seq2seq.onnx_backend import OnnxSeq2SeqBackend
    from ..runtime.seq2seq.pairs import PairEncoder
    from ..runtime.seq2seq.plan import PromptPlan
    from ..runtime.seq2seq.rank import predict_windows
    from ..training.seq2seq.torch_scoring import TorchRunner
    if not windows:
        raise ModelError("export needs windows to validate the graphs against torch")
    plan = PromptPlan.from_dict(manifest["seq2seq"])
    settings = WindowSettings.from_dict(manifest["window"])
    pairs = PairEncoder(load_tokenizer(ckpt / "tokenizer.json"), settings, plan)
    torch_runner = TorchRunner(load_model(ckpt / MODEL_DIR), "cpu", plan.max_labels)
    reference = predict_windows(pairs, windows, torch_runner, PARITY_BATCH_TOKENS, PARITY_BATCH_SIZE, 2)
    backend = OnnxSeq2SeqBackend(Bundle(out, manifest), "cpu", None, PARITY_BATCH_TOKENS, PARITY_BATCH_SIZE)
    candidate = backend.predict(windows)
    report = parity(reference.outputs, candidate.outputs)
    check_parity("fp32", report, f"{out}/{GRAPHS['decoder']}")
    return {"n_windows": len(windows), "n_pairs": len(windows) * len(plan.prompts), "reference": "torch fp32",
            "fp32": report}


def default_card(name: str, checkpoint: str, config: dict) -> str:
    instructions = "with" if config["seq2seq"].get("instructions") else "without"
    return (f"# {name}\n\nInstruction-finetuned seq2seq rank classifier ({config.get('model_type')}, "
            f"{instructions} instructions), exported from `{checkpoint}` (base model "
            f"`{config.get('base_model')}`). Trained on ESConv and EMH/EPITOME: research use only, as those "
            "data sets are licensed. See docs/seq2seq.md.\n")
