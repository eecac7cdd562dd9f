"""Seq2seq models and checkpoints (extra `train`): build from a base model, save, load.

Two families behind one interface (both load with AutoModelForSeq2SeqLM):
- a seq2seq checkpoint (T5, Flan-T5, BART, or a saved EncoderDecoderModel) is used as it is;
- an encoder-only checkpoint (BERT/MiniLM) is warm-started into an EncoderDecoderModel: both halves
  start from its weights, the decoder's cross-attention and LM-head transform start random.
A checkpoint folder: `model/` (save_pretrained, safetensors), `tokenizer.json`, `empathy_config.json`
(`"arch": "seq2seq"`, tasks, window, prompt plan) and a `manifest.json` that makes the folder a
`torch-seq2seq` bundle (`empathy-score score -m CHECKPOINT` scores with torch).
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from ...bundle import READABLE_SUFFIXES, write_manifest
from ...errors import ModelError

CONFIG_FILE = "empathy_config.json"
MODEL_DIR = "model"


def is_local(base: str) -> bool:
    return Path(base).is_dir()


def build_model(base: str, tokenizer):
    """-> (model, names of parameters that start untrained)."""
    from transformers import AutoConfig, AutoModelForSeq2SeqLM
    local = is_local(base)
    try:
        config = AutoConfig.from_pretrained(base, local_files_only=local)
        if getattr(config, "is_encoder_decoder", False):
            return AutoModelForSeq2SeqLM.from_pretrained(base, local_files_only=local), set()
        return _warm_started(base, local, tokenizer)
    except (OSError, ValueError) as exc:
        raise ModelError(f"--base-model {base}: cannot load a seq2seq model from it ({exc})") from None


def _warm_started(base: str, local: bool, tokenizer):
    """An EncoderDecoderModel whose encoder and decoder both start from an encoder-only checkpoint."""
    from transformers import AutoModel, AutoModelForCausalLM, EncoderDecoderModel
    encoder = AutoModel.from_pretrained(base, local_files_only=local)
    decoder, info = AutoModelForCausalLM.from_pretrained(base, local_files_only=local, is_decoder=True,
                                                         add_cross_attention=True, output_loading_info=True)
    model = EncoderDecoderModel(encoder=encoder, decoder=decoder)
    start = _token_id(tokenizer, ("[CLS]", "<s>"))
    end = _token_id(tokenizer, ("[SEP]", "</s>"))
    pad = _token_id(tokenizer, ("[PAD]", "<pad>"))
    model.config.decoder_start_token_id = start if start is not None else pad
    model.config.pad_token_id = pad if pad is not None else 0
    model.config.eos_token_id = end
    return model, {f"decoder.{name}" for name in info["missing_keys"]}


def _token_id(tokenizer, candidates) -> int | None:
    for token in candidates:
        found = tokenizer.token_to_id(token)
        if found is not None:
            return found
    return None


def special_ids(model) -> tuple[int, int]:
    """(decoder start token id, pad token id) from the model's config."""
    config = model.config
    start = getattr(config, "decoder_start_token_id", None)
    pad = getattr(config, "pad_token_id", None)
    if start is None and getattr(config, "decoder", None) is not None:
        start = getattr(config.decoder, "bos_token_id", None)
    if start is None:
        raise ModelError("the model config has no decoder_start_token_id: rank classification needs to know "
                         "the token the decoder starts from")
    return int(start), int(pad if pad is not None else start)


def max_input_tokens(model) -> int | None:
    """The encoder's absolute-position limit (BERT: 512); None for relative positions (T5)."""
    config = getattr(model.config, "encoder", None) or model.config
    if getattr(config, "position_embedding_type", "absolute") != "absolute":
        return None
    return getattr(config, "max_position_embeddings", None)


def model_plan(model, tokenizer, tasks, perceived, instructions: bool):
    """The prompt plan for this model and tokenizer: prompts from instructions.json, verbaliser ids,
    the decoder's start token, the encoder's input limit."""
    from ...runtime.seq2seq.plan import PromptPlan
    from ...runtime.seq2seq.prompts import build_prompts, load_instructions
    library = load_instructions()
    start, pad = special_ids(model)
    return PromptPlan.build(build_prompts(list(tasks), list(perceived), instructions, library), tokenizer, start,
                            pad, instructions, library["scored_turn_marker"], max_input_tokens(model))


def load_model(model_dir: Path):
    from transformers import AutoModelForSeq2SeqLM
    try:
        model = AutoModelForSeq2SeqLM.from_pretrained(str(model_dir), local_files_only=True)
    except (OSError, ValueError) as exc:
        raise ModelError(f"{model_dir}: cannot load a seq2seq model ({exc})") from None
    model.eval()
    return model


def base_tokenizer_file(base: str, out_file: Path) -> Path:
    """tokenizer.json of the base model: copied from a local folder, or saved from a fast tokenizer."""
    out_file.parent.mkdir(parents=True, exist_ok=True)
    local_file = Path(base) / "tokenizer.json"
    if local_file.is_file():
        shutil.copy(local_file, out_file)
        return out_file
    from transformers import AutoTokenizer
    try:
        tokenizer = AutoTokenizer.from_pretrained(base, local_files_only=is_local(base))
        tokenizer.backend_tokenizer.save(str(out_file))
    except (OSError, ValueError, AttributeError) as exc:
        raise ModelError(f"{base}: no tokenizer.json and no fast tokenizer to make one ({exc})") from None
    return out_file


def model_files(folder: Path, model_dir: Path) -> dict[str, str]:
    """Manifest `files` entries for every weight/config file of a saved model."""
    files = {}
    for path in sorted(model_dir.iterdir()):
        if path.is_file() and path.suffix in READABLE_SUFFIXES:
            role = "model_config" if path.name == "config.json" else f"model:{path.name}"
            files[role] = path.relative_to(folder).as_posix()
    return files


def save_checkpoint(model, tokenizer_file: Path, out_dir: Path, config: dict, manifest: dict) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out_dir / MODEL_DIR))
    if tokenizer_file.resolve() != (out_dir / "tokenizer.json").resolve():
        shutil.copy(tokenizer_file, out_dir / "tokenizer.json")
    (out_dir / CONFIG_FILE).write_text(json.dumps(config, indent=2))
    files = {**model_files(out_dir, out_dir / MODEL_DIR), "tokenizer": "tokenizer.json"}
    write_manifest(out_dir, {**manifest, "backend": "torch-seq2seq", "files": files})


def read_config(checkpoint: Path) -> dict:
    path = checkpoint / CONFIG_FILE
    try:
        config = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelError(f"{path}: cannot read the checkpoint config ({exc})") from None
    if config.get("arch") != "seq2seq":
        raise ModelError(f"{path}: not a seq2seq checkpoint (arch is {config.get('arch')!r})")
    return config
