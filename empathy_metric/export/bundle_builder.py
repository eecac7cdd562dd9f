"""checkpoint (safetensors + config) -> a validated ONNX bundle with manifest and model card."""
from __future__ import annotations

import platform
import shutil
import tempfile
from pathlib import Path

import numpy as np

from ..bundle import write_manifest
from ..pipeline.encoding import WindowEncoder, load_tokenizer
from ..pipeline.windows import Window, WindowSettings
from ..runtime.dequantize import to_fp16
from ..runtime.float_fallback import FloatFallback
from . import encoder_graph, fallback, smoothing
from .validation import check_parity, parity


def _versions() -> dict:
    import onnx
    import onnxruntime
    import tokenizers
    import torch
    import transformers
    return {"torch": torch.__version__, "transformers": transformers.__version__,
            "onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__,
            "tokenizers": tokenizers.__version__, "python": platform.python_version()}


def export_encoder_bundle(checkpoint: str, out_dir: str, name: str, windows: list[Window],
                          precision: str = "int8", optimise: bool = True, quality: dict | None = None,
                          card: str | None = None, extra_graphs: tuple[str, ...] = (),
                          smooth_windows: list[Window] | None = None, smooth_alpha: float = 0.8,
                          fallback_margin: float | None = None) -> dict:
    """Export, validate against torch on `windows` (validation.py: a graph beyond tolerance fails the
    export), and write the bundle. Returns the manifest. With `smooth_windows`, the int8 graph is
    quantised after activation smoothing calibrated on them (smoothing.py). With `fallback_margin`,
    the int8 graph ships a float fallback for near-tie labels (fallback.py)."""
    from ..training.model import load_checkpoint, predict_encoded
    ckpt = Path(checkpoint)
    model, config = load_checkpoint(ckpt)
    settings = WindowSettings.from_dict(config["window"])
    window_encoder = WindowEncoder(load_tokenizer(ckpt / "tokenizer.json"), settings)
    encoded = window_encoder.encode(windows)
    feeds = encoder_graph.graph_feeds(encoded, 32)
    reference = predict_encoded(model, encoded, "cpu", window_encoder.pad_id)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    heads, hidden = model.encoder.config.num_attention_heads, model.encoder.config.hidden_size
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = Path(tmp) / "model.fp32.onnx"
        import torch
        encoder_graph.export_fp32(model, {k: torch.from_numpy(v) for k, v in feeds[0].items()}, fp32)
        graphs = {"fp32": fp32}
        if optimise:
            graphs["fp32"] = Path(tmp) / "model.opt.onnx"
            encoder_graph.optimise(fp32, graphs["fp32"], heads, hidden)
        validation = {"n_windows": len(encoded),
                      "fp32": parity(reference, encoder_graph.run_graph(graphs["fp32"], feeds))}
        check_parity("fp32", validation["fp32"], f"{out_dir}/model.onnx")
        wanted = {precision, *extra_graphs}
        if "int8" in wanted:
            graphs["int8"] = Path(tmp) / "model.int8.onnx"
            heads_only = encoder_graph.head_nodes(graphs["fp32"], model.output_names())
            float_graph, kept_float = graphs["fp32"], list(heads_only)
            if fallback_margin is not None:
                float_graph = Path(tmp) / "model.rowtable.onnx"
                kept_float.append(fallback.per_row_word_table(graphs["fp32"], float_graph))
            source = float_graph
            if smooth_windows:
                source = Path(tmp) / "model.smoothed.onnx"
                calibration = encoder_graph.graph_feeds(window_encoder.encode(smooth_windows))
                count = smoothing.smooth(float_graph, source, calibration, smooth_alpha, set(heads_only))
                validation["int8_smoothing"] = {"alpha": smooth_alpha, "calibration_windows": len(calibration),
                                                "smoothed_nodes": count}
            encoder_graph.quantise_int8(source, graphs["int8"], kept_float)
            # int8 graphs run one window per call (see OnnxEncoderBackend): validate the same way.
            single_rows = encoder_graph.graph_feeds(encoded)
            if fallback_margin is None:
                validation["int8"] = parity(reference, encoder_graph.run_graph(graphs["int8"], single_rows))
            else:
                fallback.expose_embedding(graphs["int8"], graphs["int8"])
                graphs["fallback"] = Path(tmp) / "model.fallback.onnx"
                fallback.fallback_graph(float_graph, graphs["fallback"], model.output_names())
                validation["int8"], validation["int8_fallback"] = _validate_fallback(
                    reference, graphs["int8"], graphs["fallback"], fallback_margin, single_rows)
            check_parity("int8", validation["int8"], f"{out_dir}/model.onnx")
        if "fp16" in wanted:
            graphs["fp16"] = Path(tmp) / "model.fp16.onnx"
            to_fp16(fp32, graphs["fp16"], heads, hidden)     # as the runtime converts an int8 bundle's graph
        files = {"model": "model.onnx", "tokenizer": "tokenizer.json", "card": "README.md"}
        shutil.copy(graphs[precision], out / "model.onnx")
        if precision == "int8" and fallback_margin is not None:
            files["model_fallback"] = "model.fallback.onnx"
            shutil.copy(graphs["fallback"], out / files["model_fallback"])
        for extra in extra_graphs:
            if extra != precision:
                files[f"model_{extra}"] = f"model.{extra}.onnx"
                shutil.copy(graphs[extra], out / files[f"model_{extra}"])
    shutil.copy(ckpt / "tokenizer.json", out / "tokenizer.json")
    (out / "README.md").write_text(card or f"# {name}\n\nExported from `{checkpoint}`.\n", encoding="utf-8")
    manifest = {
        "name": name, "backend": "onnx-encoder", "files": files,
        "tasks": config["tasks"],
        "perceived": {"dimensions": config.get("perceived", []),
                      "derivation": "sigmoid head per dimension; per-turn scores trained against the "
                                    "dialogue's seeker-survey rating (see README.md)"},
        "window": config["window"],
        "runtime": {"precision": precision, "single_row_batches": precision == "int8",
                    "inputs": encoder_graph.INPUT_NAMES, "outputs": model.output_names(),
                    **({"float_fallback_margin": fallback_margin} if "model_fallback" in files else {})},
        "base_model": Path(config.get("base_model", "")).name or config.get("base_model"),
        "calibration_bias": config.get("calibration_bias", {}),
        "versions": _versions(), "export_validation": validation,
        "quality": quality or {},
    }
    return write_manifest(out, manifest)


def _validate_fallback(reference, int8_graph: Path, fallback_graph: Path, margin: float, single_rows) -> tuple:
    """Parity of the int8 graph with its float fallback as the backend runs them (one window per call),
    and what the fallback did: the share of windows it re-ran, the int8 graph's parity without it."""
    from ..runtime.ort_session import make_session
    int8 = make_session(int8_graph, "cpu", 1)
    names = [o.name for o in int8.get_outputs()]
    fallback = FloatFallback(make_session(fallback_graph, "cpu", 1), margin)
    plain, cascaded, reruns = [], [], 0
    for feeds in single_rows:
        outputs = dict(zip(names, int8.run(names, feeds)))
        plain.append({k: v for k, v in outputs.items() if k in reference})
        reruns += fallback.needed(plain[-1])
        cascaded.append(fallback.apply(outputs, feeds["target_mask"]))
    stack = lambda rows: {k: np.concatenate([r[k] for r in rows]) for k in reference}  # noqa: E731
    return parity(reference, stack(cascaded)), {
        "margin": margin, "rerun_share": reruns / max(1, len(single_rows)),
        "int8_alone": parity(reference, stack(plain))}
