"""The backend of a worker whose model runs in another process (one process per GPU): it cuts and
encodes windows into the batches that model's backend would make, and takes their outputs back."""
from __future__ import annotations

from ..bundle import Bundle
from ..errors import ModelError
from ..pipeline.encoding import BatchPlan, PreparedWindows, WindowEncoder, load_tokenizer, prepare_windows
from ..pipeline.windows import Window
from ..runtime import RawOutputs


class CpuStages:
    """Prepares a chunk's windows under `plan` (the model backend's); holds no model."""

    def __init__(self, bundle: Bundle, plan: BatchPlan, windows_per_chunk: int, settings=None):
        self.bundle, self.plan = bundle, plan
        self.windows_per_chunk = windows_per_chunk      # the model backend's: the chunks it would cut
        self.encoder = WindowEncoder(load_tokenizer(bundle.file("tokenizer")), settings or bundle.window)

    def with_settings(self, settings) -> "CpuStages":
        return CpuStages(self.bundle, self.plan, self.windows_per_chunk, settings)

    def prepare(self, windows: list[Window]) -> PreparedWindows:
        return prepare_windows(self.encoder, windows, self.plan)

    def predict(self, windows: list[Window]) -> RawOutputs:
        raise ModelError("internal: the CPU stages of a scoring run hold no model; its process does")
