"""The model bundle: a folder with manifest.json, graph(s), tokenizer.json and a model card.

Loading never downloads, never exports and never unpickles. Every file the manifest names must stay
inside the folder (no absolute paths, no '..', no symlinks out) and match its recorded sha256.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .errors import ModelError
from .pipeline.quantification import quantifier
from .pipeline.windows import WindowSettings
from .schemas import Task

MANIFEST = "manifest.json"
SCHEMA_VERSION = 1
BACKENDS = ("onnx-encoder", "onnx-seq2seq", "torch-encoder", "torch-seq2seq")
READABLE_SUFFIXES = (".onnx", ".json", ".md", ".txt", ".data", ".safetensors")
MODELS_DIR = Path(__file__).resolve().parent / "models"
DEFAULT_MODEL = "minilm-empathy-v5"
# Short names of shipped models: "fast" is a 3-layer student of the default, about 4.5x PyTorch on
# CPU and slightly less valid (its model card says by how much).
MODEL_ALIASES = {"default": DEFAULT_MODEL, "fast": "minilm-empathy-v5-fast"}
REQUIRED_KEYS = ("schema_version", "name", "backend", "files", "sha256", "tasks", "window")
# The files of a trained encoder checkpoint: role -> path inside the checkpoint folder. A bundle that
# lists them all holds torch weights (a `torch-encoder` bundle, or an ONNX bundle that ships them for
# `--device cuda` where ONNX Runtime has no CUDA provider).
CHECKPOINT_FILES = {"checkpoint_config": "empathy_config.json",
                    "checkpoint_heads": "heads.safetensors",
                    "checkpoint_encoder_config": "encoder/config.json",
                    "checkpoint_encoder_weights": "encoder/model.safetensors"}


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class Bundle:
    path: Path
    manifest: dict

    @property
    def name(self) -> str:
        return self.manifest["name"]

    @property
    def backend(self) -> str:
        return self.manifest["backend"]

    @property
    def tasks(self) -> list[Task]:
        return [Task.from_dict(t) for t in self.manifest["tasks"]]

    @property
    def perceived(self) -> list[str]:
        return list(self.manifest.get("perceived", {}).get("dimensions", []))

    @property
    def window(self) -> WindowSettings:
        return WindowSettings.from_dict(self.manifest["window"])

    def has_file(self, role: str) -> bool:
        return role in self.manifest["files"]

    def file(self, role: str) -> Path:
        if role not in self.manifest["files"]:
            raise ModelError(f"{self.path / MANIFEST}: no '{role}' file listed under 'files'")
        return self.path / self.manifest["files"][role]

    def signature(self) -> dict:
        """What every output carries: which model, exactly (sha256 of the manifest, which pins all files)."""
        from .version import __version__
        return {"model": self.name, "backend": self.backend,
                "manifest_sha256": sha256_of(self.path / MANIFEST), "empathy_metric": __version__}


def has_torch_weights(bundle: Bundle) -> bool:
    return all(bundle.has_file(role) for role in CHECKPOINT_FILES)


def checkpoint_files(prefix: str = "") -> dict[str, str]:
    """Manifest `files` entries for a checkpoint stored at `prefix` inside a bundle folder."""
    return {role: f"{prefix}{path}" for role, path in CHECKPOINT_FILES.items()}


def resolve_model_path(model: str | Path | None) -> Path:
    """None -> the shipped default; a folder path; or the name (or alias) of a shipped model."""
    if model is None:
        return MODELS_DIR / DEFAULT_MODEL
    path = Path(model)
    if path.is_dir() or path.exists():
        return path
    shipped = MODELS_DIR / MODEL_ALIASES.get(str(model), str(model))
    if "/" not in str(model) and shipped.is_dir():
        return shipped
    aliases = [f"{alias} = {name}" for alias, name in MODEL_ALIASES.items() if name in shipped_models()]
    shipped_names = ", ".join(shipped_models() + aliases) or "none is installed"
    raise ModelError(f"model '{model}' not found: give a bundle folder or a shipped model name "
                     f"({shipped_names})")


def shipped_models() -> list[str]:
    if not MODELS_DIR.is_dir():
        return []
    return sorted(p.name for p in MODELS_DIR.iterdir() if (p / MANIFEST).is_file())


def safe_member(folder: Path, name: str) -> Path:
    """The path of a manifest-listed file, refusing anything that could leave the bundle folder."""
    pure = PurePosixPath(name)
    if not name or pure.is_absolute() or "\\" in name or ".." in pure.parts or ":" in name \
            or "\0" in name:
        raise ModelError(f"{folder / MANIFEST}: file name '{name}' must be a plain relative path "
                         "inside the bundle")
    path = folder / pure
    if path.is_symlink():
        raise ModelError(f"{path}: a link; links are refused in a bundle")
    if not path.resolve().is_relative_to(folder.resolve()):
        raise ModelError(f"{path}: resolves outside the bundle folder (through a linked folder)")
    if path.suffix not in READABLE_SUFFIXES:
        raise ModelError(f"{path}: only {', '.join(READABLE_SUFFIXES)} files may be in a bundle")
    return path


def _check_shape(manifest: dict, manifest_path: Path) -> None:
    """Wrong types in a hand-edited or hostile manifest become a ModelError, never a traceback."""
    def fail(what: str):
        raise ModelError(f"{manifest_path}: {what}")
    files, digests = manifest["files"], manifest["sha256"]
    if not isinstance(files, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                              for k, v in files.items()):
        fail("'files' must map roles to file names (text)")
    if not isinstance(digests, dict) or not all(isinstance(v, str) for v in digests.values()):
        fail("'sha256' must map file names to hex digests (text)")
    if not isinstance(manifest["tasks"], list) or not manifest["tasks"]:
        fail("'tasks' must be a non-empty list")
    for number, task in enumerate(manifest["tasks"]):
        if not (isinstance(task, dict) and isinstance(task.get("name"), str)
                and isinstance(task.get("labels"), list) and task["labels"]
                and all(isinstance(label, str) for label in task["labels"])):
            fail(f"task {number} needs a 'name' and a non-empty list of 'labels' (text)")
        try:
            quantifier(Task.from_dict(task))
        except (TypeError, ValueError, AttributeError) as exc:
            fail(f"task {number} ('{task['name']}'): 'rates' is not usable ({exc})")
    if not isinstance(manifest["window"], dict):
        fail("'window' must be an object")
    try:
        WindowSettings.from_dict(manifest["window"])
    except (TypeError, ValueError, AttributeError) as exc:
        fail(f"'window' settings are not usable ({exc})")


def load_bundle(model: str | Path | None = None, verify: bool = True) -> Bundle:
    folder = resolve_model_path(model)
    manifest_path = folder / MANIFEST
    if manifest_path.is_symlink():
        raise ModelError(f"{manifest_path}: a link; links are refused in a bundle")
    if not manifest_path.is_file():
        raise ModelError(f"{folder}: not a model bundle (no {MANIFEST})")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ModelError(f"{manifest_path}: not valid JSON ({exc})") from None
    except OSError as exc:
        raise ModelError(f"{manifest_path}: cannot read ({exc.strerror})") from None
    if not isinstance(manifest, dict):
        raise ModelError(f"{manifest_path}: expected a JSON object")
    missing = [k for k in REQUIRED_KEYS if k not in manifest]
    if missing:
        raise ModelError(f"{manifest_path}: missing key(s) {', '.join(missing)}")
    _check_shape(manifest, manifest_path)
    if manifest["schema_version"] != SCHEMA_VERSION:
        raise ModelError(f"{manifest_path}: schema_version {manifest['schema_version']} is not "
                         f"supported (this version reads {SCHEMA_VERSION})")
    if manifest["backend"] not in BACKENDS:
        raise ModelError(f"{manifest_path}: unknown backend '{manifest['backend']}' "
                         f"(known: {', '.join(BACKENDS)})")
    for role, name in manifest["files"].items():
        path = safe_member(folder, name)
        if name not in manifest["sha256"]:
            raise ModelError(f"{manifest_path}: no sha256 recorded for '{name}'")
        if not path.is_file():
            raise ModelError(f"{path}: missing ({role} file listed in the manifest)")
        try:
            altered = verify and sha256_of(path) != manifest["sha256"][name]
        except OSError as exc:
            raise ModelError(f"{path}: cannot read ({exc.strerror})") from None
        if altered:
            raise ModelError(f"{path}: sha256 does not match the manifest: the file is altered or "
                             "truncated")
    return Bundle(path=folder, manifest=manifest)


def write_manifest(folder: Path, manifest: dict) -> dict:
    """Fill in sha256 for every listed file (plus the model card) and write manifest.json."""
    manifest = dict(manifest)
    manifest.setdefault("schema_version", SCHEMA_VERSION)
    names = list(manifest["files"].values())
    manifest["sha256"] = {name: sha256_of(safe_member(folder, name)) for name in names}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n",
                                   encoding="utf-8")
    return manifest


def record_manifest_key(folder: Path, key: str, value) -> None:
    """Set one top-level key of a bundle's manifest (e.g. its measured `validity`); the files it lists
    and their sha256 are untouched."""
    path = Path(folder) / MANIFEST
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest[key] = value
    path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
