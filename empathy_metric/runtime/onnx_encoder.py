"""The encoder backend on ONNX Runtime: tokenizers + onnxruntime + numpy, nothing else."""
from __future__ import annotations

import copy
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..bundle import has_torch_weights
from ..errors import ModelError
from ..pipeline.encoding import BatchPlan, PreparedWindows, WindowEncoder, load_tokenizer, plan_batches
from . import WINDOWS_PER_CHUNK, RawOutputs, backend_factory
from .float_fallback import EMBEDDED, MASK_INDEX, FloatFallback
from .ort_session import make_session, physical_cores, require_cuda_provider, scoring_failures
from .relevance import with_relevance

# CUDA: windows are encoded (CPU) in spans of this many, each span's batches going to the GPU thread
# while the next span is encoded; the scorer hands the backend this many windows per call.
CUDA_SORT_SPAN = 4096
CUDA_WINDOWS_PER_CHUNK = 8 * CUDA_SORT_SPAN


def load_onnx_encoder(bundle, device="cpu", threads=None, max_batch_tokens=16384, max_batch_size=128):
    """The `onnx-encoder` backend (with the bundle's relevance stage, when it has one: relevance.py).
    On CUDA, when ONNX Runtime cannot run there and the bundle ships its torch weights, the
    `torch-encoder` backend on CUDA instead (said in a warning, not a print)."""
    try:
        backend = OnnxEncoderBackend(bundle, device, threads, max_batch_tokens, max_batch_size)
    except ModelError as exc:
        if device != "cuda" or not has_torch_weights(bundle):
            raise
        warnings.warn(f"ONNX Runtime cannot score on CUDA here ({exc}); scoring with the bundle's "
                      "torch weights on CUDA instead", RuntimeWarning, stacklevel=2)
        backend = backend_factory("torch-encoder")(bundle, "cuda", threads, max_batch_tokens, max_batch_size)
    return with_relevance(bundle, backend, threads)


class OnnxEncoderBackend:
    windows_per_chunk = WINDOWS_PER_CHUNK

    def __init__(self, bundle, device="cpu", threads=None, max_batch_tokens=16384, max_batch_size=128):
        self.bundle = bundle
        self.device = device
        if device == "cuda":
            from .cuda_graph import cuda_graph
            require_cuda_provider()            # before deriving a CUDA graph nothing could run
            graph_path, single = cuda_graph(bundle)
        else:
            graph_path = bundle.file("model")
            single = bundle.manifest.get("runtime", {}).get("single_row_batches", False)
        # One window per call is too small to split across threads well: on CPU, run `threads`
        # calls at once, each on one thread (Run is thread-safe and releases the GIL). A window's
        # result does not depend on which thread runs it (one row, one thread, same kernels).
        self.batch_threads = (threads or physical_cores()) if single and device == "cpu" else 1
        self.graph_path = graph_path
        self.session = make_session(graph_path, device, 1 if self.batch_threads > 1 else threads)
        # CUDA: one thread drives the GPU while this one encodes and pads what comes next.
        self.cuda = device == "cuda"
        if self.cuda:
            self.batch_threads, self.windows_per_chunk = 1, CUDA_WINDOWS_PER_CHUNK
        graph_outputs = [o.name for o in self.session.get_outputs()]
        # the outputs scores are made of; `output_names`: what each call fetches
        self.result_names = [n for n in graph_outputs if n not in (EMBEDDED, MASK_INDEX)]
        self.output_names = self.result_names
        expected = [f"logits.{t.name}" for t in bundle.tasks] + (["perceived"] if bundle.perceived else [])
        missing = [n for n in expected if n not in self.result_names]
        if missing:
            raise ModelError(f"{graph_path}: graph lacks output(s) {', '.join(missing)}")
        # int8 on CPU: near-tie labels recomputed in float from the int8 graph's embedding output
        self.fallback = None
        margin = bundle.manifest.get("runtime", {}).get("float_fallback_margin")
        if margin is not None and not self.cuda and graph_path == bundle.file("model"):
            self.fallback = FloatFallback(make_session(bundle.file("model_fallback"), device,
                                                       1 if self.batch_threads > 1 else threads), margin)
            self.output_names = graph_outputs
        self.encoder = WindowEncoder(load_tokenizer(bundle.file("tokenizer")), bundle.window)
        # Dynamically quantised graphs compute activation ranges over the whole batch, so a window's
        # result would depend on its batch-mates: such graphs run one window per call.
        self.max_batch_size = 1 if single else max_batch_size
        self.max_batch_tokens = max_batch_tokens
        # Multi-row graphs never run a batch of one (see length_sorted_batches): results must not
        # depend on --batch-size or on how many windows happen to be left for the last batch.
        self.min_rows = 1 if single else 2
        # CUDA: sorted a span at a time, so the GPU can start on one span while the next is encoded
        self.plan = BatchPlan(self.max_batch_tokens, self.max_batch_size, self.min_rows,
                              CUDA_SORT_SPAN if self.cuda else None)

    def with_settings(self, settings):
        other = copy.copy(self)                 # shares the session
        other.encoder = WindowEncoder(self.encoder.tokenizer, settings)
        return other

    def _run(self, batch):
        feeds = {"input_ids": batch.input_ids, "attention_mask": batch.attention_mask,
                 "target_mask": batch.target_mask}
        with scoring_failures(self.graph_path):
            if self.fallback is not None:
                outputs = dict(zip(self.output_names, self.session.run(self.output_names, feeds)))
                outputs = self.fallback.apply(outputs, batch.target_mask)
                return batch.positions, [outputs[n] for n in self.result_names]
            if not self.cuda:
                return batch.positions, self.session.run(self.output_names, feeds)
            # I/O binding: inputs copied to the GPU once, outputs left there and read back together.
            from onnxruntime import OrtValue
            binding = self.session.io_binding()
            for name, value in feeds.items():
                binding.bind_ortvalue_input(name, OrtValue.ortvalue_from_numpy(value, "cuda", 0))
            for name in self.output_names:
                binding.bind_output(name, "cuda", 0)
            self.session.run_with_iobinding(binding)
            return batch.positions, binding.copy_outputs_to_cpu()

    def predict(self, windows) -> RawOutputs:
        truncated = np.zeros(len(windows), dtype=np.uint8)       # CUT_* bits (pipeline/encoding.py)
        return self._collect(plan_batches(self.encoder, windows, self.plan, truncated), len(windows), truncated)

    def run_prepared(self, prepared: PreparedWindows) -> RawOutputs:
        """The outputs of windows a --workers process encoded and batched under `self.plan`."""
        return self._collect(iter(prepared.batches), prepared.count, prepared.truncated)

    def _collect(self, batches, n: int, truncated: np.ndarray) -> RawOutputs:
        results: dict[str, np.ndarray] = {}
        if self.batch_threads > 1 or self.cuda:
            pool = ThreadPoolExecutor(self.batch_threads)
            try:
                runs = list(pool.map(self._run, batches))
            finally:        # on Ctrl-C, drop the queued windows instead of scoring them first
                pool.shutdown(wait=True, cancel_futures=True)
        else:
            runs = map(self._run, batches)
        for positions, values in runs:
            for name, value in zip(self.result_names, values):
                if name not in results:
                    results[name] = np.empty((n, *value.shape[1:]), dtype=np.float32)
                results[name][positions] = value
        return RawOutputs(outputs=results, truncated=truncated)
