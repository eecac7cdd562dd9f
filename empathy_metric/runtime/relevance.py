"""`perceived.relevance`: does a reply belong to its conversation?

A bi-encoder, the bundle's `relevance` graph (`text_ids`, `text_mask` -> `text_embedding`; it shares
the encoder's word table, kept once in an external data file), embeds each distinct turn once; a reply's score is
sigmoid(slope * cos(reply, context) + intercept), the context being the unit-length mix of the turn
before it and the turn after it (`mix`, learned with the encoder). The calibration puts 0.5 where real
and swapped replies are equally likely; a reply with no turn on either side has nothing to fit and
scores exactly that, 0.5 (no evidence either way). One text per call, like the int8 windows, so a score never depends
on its batch-mates. The manifest's `relevance` section holds the constants; the column is appended to
`perceived`, after the graph's own dimensions.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..errors import ModelError
from ..pipeline.encoding import CHARS_PER_TOKEN, load_tokenizer
from . import RawOutputs
from .ort_session import make_session, physical_cores

TEXT_IDS, TEXT_MASK, TEXT_EMBEDDING = "text_ids", "text_mask", "text_embedding"
NO_CONTEXT = 0.5


class ContextFit:
    def __init__(self, bundle, threads: int | None = None):
        spec = bundle.manifest.get("relevance")
        try:
            self.max_tokens = int(spec["max_tokens"])
            self.mix = np.array(spec["mix"], dtype=np.float32).reshape(2)
            self.slope, self.intercept = (float(v) for v in spec["calibration"])
        except (TypeError, KeyError, ValueError) as exc:
            raise ModelError(f"{bundle.path}: manifest 'relevance' is not usable ({exc!r})") from None
        self.tokenizer = load_tokenizer(bundle.file("tokenizer"))
        self.tokenizer.enable_truncation(self.max_tokens)
        self.threads = threads or physical_cores()
        graph = bundle.file("relevance")
        self.session = make_session(graph, "cpu", 1)
        if TEXT_EMBEDDING not in {o.name for o in self.session.get_outputs()}:
            raise ModelError(f"{graph}: graph lacks output '{TEXT_EMBEDDING}'")

    def _embed(self, ids: list[int]) -> np.ndarray:
        feeds = {TEXT_IDS: np.array([ids], np.int64), TEXT_MASK: np.ones((1, len(ids)), np.int64)}
        return self.session.run([TEXT_EMBEDDING], feeds)[0][0]

    def embeddings(self, windows) -> dict[str, np.ndarray]:
        """Each distinct text the windows' scores read (reply, turn before, turn after), embedded once."""
        texts = list(dict.fromkeys(t for w in windows for t in (w.target, *neighbours(w)) if t is not None))
        # only a turn's first tokens are read: cut it first, as the window encoder does (tokenising a
        # 20 MB turn whole takes gigabytes)
        keep = self.max_tokens * CHARS_PER_TOKEN
        encodings = self.tokenizer.encode_batch([text[:keep] for text in texts])
        with ThreadPoolExecutor(self.threads) as pool:
            return dict(zip(texts, pool.map(self._embed, [e.ids for e in encodings])))

    def calibrated(self, cosines: np.ndarray) -> np.ndarray:
        """Scores from context cosines; NaN (no turn around the reply) -> NO_CONTEXT."""
        fitted = 1.0 / (1.0 + np.exp(-(self.slope * cosines + self.intercept)))
        return np.where(np.isnan(cosines), NO_CONTEXT, fitted).astype(np.float32)

    def scores(self, windows) -> np.ndarray:
        return self.calibrated(context_cosines(windows, self.embeddings(windows), self.mix))


def neighbours(window) -> tuple[str | None, str | None]:
    """The texts of the turn before and the turn after the reply; an empty one counts as no turn
    (as in training)."""
    before = window.before[-1].text if window.before and window.before[-1].text else None
    after = window.after[0].text if window.after and window.after[0].text else None
    return before, after


def context_cosines(windows, vectors: dict[str, np.ndarray], mix: np.ndarray) -> np.ndarray:
    """cos(reply, mix[0] * turn before + mix[1] * turn after) per window, from unit-length text
    embeddings; NaN for a reply with no turn on either side."""
    found = np.empty(len(windows))
    for i, w in enumerate(windows):
        context = np.zeros(len(vectors[w.target]), np.float32)
        for weight, text in zip(mix, neighbours(w)):
            if text is not None:
                context += weight * vectors[text]
        norm = float(np.linalg.norm(context))
        found[i] = float(vectors[w.target] @ context) / norm if norm > 0 else np.nan
    return found


class WithRelevance:
    """A backend whose `perceived` output gains the relevance column. Not a PreparedBackend: batches
    encoded elsewhere carry no turn texts, so such runs score the model in the workers."""

    def __init__(self, inner, fit: ContextFit):
        self.inner, self.fit = inner, fit
        self.windows_per_chunk = inner.windows_per_chunk

    def predict(self, windows) -> RawOutputs:
        raw = self.inner.predict(windows)
        perceived = np.concatenate([raw.outputs["perceived"], self.fit.scores(windows)[:, None]], axis=1)
        return RawOutputs(outputs={**raw.outputs, "perceived": perceived}, truncated=raw.truncated)

    def with_settings(self, settings) -> "WithRelevance":
        return WithRelevance(self.inner.with_settings(settings), self.fit)


def with_relevance(bundle, backend, threads: int | None = None):
    """`backend`, with the bundle's relevance stage when its manifest has one."""
    return WithRelevance(backend, ContextFit(bundle, threads)) if "relevance" in bundle.manifest else backend
