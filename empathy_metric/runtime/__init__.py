"""The runtime: backends turn windows into raw outputs {"logits.<task>": [n, labels], "perceived": [n, dims]}.

Every backend follows the `Backend` protocol and returns rows in the order of the windows it was
given, whatever batching it uses. A bundle's manifest names its backend kind; `load_backend` finds
the kind's factory in a registry of "module:attribute" strings, imported only when a bundle of that
kind is loaded. The torch kinds are implemented by the training side (extra `train`): the runtime
names them but never imports them itself, and `register_backend` adds or replaces a kind.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Protocol, runtime_checkable

import numpy as np

from ..errors import MissingExtraError, ModelError

if TYPE_CHECKING:
    from ..bundle import Bundle
    from ..pipeline.encoding import BatchPlan, PreparedWindows
    from ..pipeline.windows import Window, WindowSettings

# Windows a scorer hands a backend per call: bounds memory whatever the input size. A GPU backend
# asks for more (its batches are bigger) through its own `windows_per_chunk`.
WINDOWS_PER_CHUNK = 512


@dataclass
class RawOutputs:
    outputs: dict[str, np.ndarray]
    truncated: np.ndarray            # uint8 [n]: what did not fit the window (CUT_* bits; 0 = nothing)


class Backend(Protocol):
    windows_per_chunk: int

    def predict(self, windows: list[Window]) -> RawOutputs:
        """Raw outputs for `windows`, rows in their order; never depends on batching."""

    def with_settings(self, settings: WindowSettings) -> Backend:
        """A new backend that cuts windows with `settings` (e.g. no future context); the model and
        its session are shared, this one is left as it is."""


@runtime_checkable
class PreparedBackend(Backend, Protocol):
    """A backend that runs batches encoded elsewhere (a worker process cut and padded them under its
    `plan`): what lets `--workers` keep the model in one process (one per GPU) and the CPU stages in
    the workers. The ONNX encoder is one; torch and seq2seq backends are not."""
    plan: BatchPlan

    def run_prepared(self, prepared: PreparedWindows) -> RawOutputs:
        """Raw outputs of the prepared windows, rows in their order."""


# factory(bundle, device, threads, max_batch_tokens, max_batch_size) -> Backend
BackendFactory = Callable[..., Backend]
_FACTORIES: dict[str, str | BackendFactory] = {
    "onnx-encoder": "empathy_metric.runtime.onnx_encoder:load_onnx_encoder",
    "onnx-seq2seq": "empathy_metric.runtime.seq2seq.onnx_backend:OnnxSeq2SeqBackend",
    "torch-encoder": "empathy_metric.training.torch_encoder:TorchEncoderBackend",
    "torch-seq2seq": "empathy_metric.training.seq2seq.torch_backend:TorchSeq2SeqBackend",
}
EXTRAS = {"torch-encoder": "train", "torch-seq2seq": "train"}     # what a kind needs beyond the scoring install


def register_backend(kind: str, factory: str | BackendFactory) -> None:
    """Make `kind` load with `factory` (a callable or its "module:attribute")."""
    _FACTORIES[kind] = factory


def backend_factory(kind: str) -> BackendFactory:
    factory = _FACTORIES.get(kind)
    if factory is None:
        raise ModelError(f"no backend for '{kind}' (known: {', '.join(sorted(_FACTORIES))})")
    if callable(factory):
        return factory
    module_name, _, attribute = factory.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] == "empathy_metric":
            raise
        raise MissingExtraError(exc.name or module_name, EXTRAS.get(kind, kind),
                                f"The '{kind}' backend") from None
    return getattr(module, attribute)


def load_backend(bundle: Bundle, device: str = "cpu", threads: int | None = None,
                 max_batch_tokens: int = 16384, max_batch_size: int = 128) -> Backend:
    """The backend the bundle's manifest names, on `device`."""
    return backend_factory(bundle.backend)(bundle, device, threads, max_batch_tokens, max_batch_size)
