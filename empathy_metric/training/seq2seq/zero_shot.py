"""Zero-shot prompting (the paper's prompting baseline): a frozen seq2seq checkpoint answers the
instructions by rank classification, with no training. Same outputs as any bundle.

The checkpoint is a local folder: a model saved with `save_pretrained` plus its `tokenizer.json`
(e.g. a downloaded google/flan-t5-large), or a seq2seq checkpoint written by `empathy-score train`.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from ...bundle import Bundle
from ...errors import ModelError
from ...pipeline.windows import WindowSettings
from ...schemas import DEFAULT_TASKS, PERCEIVED_DIMENSIONS, Task
from .checkpoints import CONFIG_FILE, MODEL_DIR, model_files

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".json")


@dataclass(frozen=True)
class ZeroShotBundle(Bundle):
    """An in-memory manifest over a checkpoint folder. Its signature hashes that manifest, which
    holds the sha256 of every weight and config file, the prompts and the window settings."""

    def signature(self) -> dict:
        from ...version import __version__
        digest = hashlib.sha256(json.dumps(self.manifest, sort_keys=True).encode()).hexdigest()
        return {"model": self.name, "backend": self.backend, "manifest_sha256": digest,
                "empathy_metric": __version__}


def zero_shot_bundle(checkpoint: str, model, tokenizer, tasks: list[Task], perceived: list[str],
                     settings: WindowSettings, instructions: bool) -> ZeroShotBundle:
    from ...bundle import sha256_of
    from .checkpoints import model_plan
    folder = Path(checkpoint)
    model_dir = folder / MODEL_DIR if (folder / CONFIG_FILE).is_file() else folder
    plan = model_plan(model, tokenizer, tasks, perceived, instructions)
    files = {**model_files(folder, model_dir), "tokenizer": "tokenizer.json"}
    weights = sorted(p for p in model_dir.iterdir() if p.is_file() and p.suffix in WEIGHT_SUFFIXES)
    manifest = {"schema_version": 1, "name": f"zero-shot:{folder.resolve().name}", "backend": "torch-seq2seq",
                "files": files, "sha256": {p.relative_to(folder).as_posix(): sha256_of(p) for p in weights},
                "tasks": [t.to_dict() for t in tasks],
                "perceived": {"dimensions": list(perceived),
                              "derivation": "P(yes) of one yes/no instruction per dimension, zero-shot"},
                "window": settings.to_dict(), "seq2seq": plan.to_dict(), "zero_shot": True}
    return ZeroShotBundle(path=folder, manifest=manifest)


def zero_shot_scorer(checkpoint, device: str = "cpu", threads: int | None = None, max_batch_tokens: int = 16384,
                     max_batch_size: int = 128, agent_roles=None, future_context: bool = True,
                     instructions: bool = True, tasks: list[Task] | None = None,
                     perceived: list[str] | None = None, settings: WindowSettings | None = None):
    """A Scorer over a frozen seq2seq checkpoint (torch), asking the stored instructions."""
    from ...api import Scorer
    from ...dialogue import DEFAULT_AGENT_ROLES
    from ...pipeline.encoding import load_tokenizer
    from .checkpoints import load_model
    from .torch_backend import TorchSeq2SeqBackend
    folder = Path(checkpoint)
    if not folder.is_dir():
        raise ModelError(f"--zero-shot {checkpoint}: not a folder (give a local seq2seq checkpoint folder)")
    if not (folder / "tokenizer.json").is_file():
        raise ModelError(f"{folder}: no tokenizer.json (save the tokenizer next to the model: "
                         "AutoTokenizer.from_pretrained(...).save_pretrained(FOLDER))")
    model_dir = folder / MODEL_DIR if (folder / CONFIG_FILE).is_file() else folder
    model = load_model(model_dir)
    tokenizer = load_tokenizer(folder / "tokenizer.json")
    bundle = zero_shot_bundle(str(folder), model, tokenizer, list(tasks or DEFAULT_TASKS),
                              list(PERCEIVED_DIMENSIONS if perceived is None else perceived),
                              settings or WindowSettings(), instructions)
    backend = TorchSeq2SeqBackend(bundle, device, threads, max_batch_tokens, max_batch_size, model=model)
    roles = frozenset(agent_roles) if agent_roles else DEFAULT_AGENT_ROLES
    return Scorer(bundle, backend, roles, future_context)
