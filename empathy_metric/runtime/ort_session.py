"""ONNX Runtime sessions with settings chosen once, here (never global, never at import)."""
from __future__ import annotations

import contextlib
import os

from ..errors import MissingExtraError, ModelError


def physical_cores() -> int:
    return max(1, os.cpu_count() or 1)


def make_session(graph_path, device: str = "cpu", threads: int | None = None):
    """CPU: all cores for one intra-op pool (the graph is a chain of big ops, inter-op parallelism
    buys nothing), full graph optimisation. CUDA: the CUDA provider, or a ModelError that says why."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise MissingExtraError("onnxruntime", "gpu' or plain 'empathy-metric", "ONNX scoring") from None
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.intra_op_num_threads = threads or physical_cores()
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    # Fold DequantizeLinear of constant tables (the per-row int8 word embeddings of a bundle with a
    # float fallback) once at load instead of on every call; these graphs have no QDQ pairs to fuse.
    options.add_session_config_entry("session.disable_quant_qdq", "1")
    if device == "cuda":
        require_cuda_provider()
        providers = ["CUDAExecutionProvider", "CPUExecutionProvider"]
    else:
        providers = ["CPUExecutionProvider"]
    try:
        session = ort.InferenceSession(str(graph_path), sess_options=options, providers=providers)
    except Exception as exc:   # ORT raises its own untyped errors for bad graphs
        raise ModelError(f"{graph_path}: ONNX Runtime cannot load this graph ({exc})") from None
    if device == "cuda" and "CUDAExecutionProvider" not in session.get_providers():
        raise ModelError("the CUDA provider failed to start (see ONNX Runtime's log); "
                         "use --device cpu")
    return session


@contextlib.contextmanager
def scoring_failures(graph_path):
    """ONNX Runtime's own untyped errors while a graph runs (a token id beyond the embedding table,
    a shape the graph refuses, memory) -> a one-line ModelError naming the graph."""
    try:
        yield
    except Exception as exc:     # ORT raises its own untyped errors
        raise ModelError(f"{graph_path}: ONNX Runtime failed while scoring ({' '.join(str(exc).split())})") \
            from None


def require_cuda_provider() -> None:
    """A ModelError that says what to install unless ORT's CUDA provider is there; loads its libraries."""
    import onnxruntime as ort
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        raise ModelError("--device cuda needs onnxruntime-gpu with a working CUDA: "
                         "pip install 'empathy-metric[gpu]' (available providers: "
                         + ", ".join(ort.get_available_providers()) + "), or a bundle with "
                         "torch weights (torch-encoder) and torch with CUDA")
    _load_cuda_libraries(ort)


def _load_cuda_libraries(ort) -> None:
    """onnxruntime-gpu finds pip-installed CUDA/cuDNN (the nvidia-* wheels torch brings) only once they
    are loaded; preload_dlls (ORT >= 1.21) does that. Libraries on the system path need nothing."""
    preload = getattr(ort, "preload_dlls", None)
    if preload is not None:
        try:
            preload()
        except Exception:      # nothing to preload from: the system libraries are used
            pass
