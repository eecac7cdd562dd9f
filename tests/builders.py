"""Tiny models and tokenizers built locally for tests: no hub, no network, seconds to build."""
from __future__ import annotations

import json
from pathlib import Path

CORPUS = [
    "i am sorry to hear that , it sounds really hard .", "what happened after that ?",
    "i felt the same when i lost my job .", "you are doing great , keep going .",
    "maybe try talking to a friend about it .", "here is some information about the service .",
    "hello , how are you today ?", "i feel so sad and alone .", "thank you for listening .",
    "my order arrived broken and i need help", "please reset my password", "exams stress me out",
    "supporter : seeker : user : assistant :",
]


def fixed_wordpiece(texts: list[str], path: Path) -> Path:
    """A WordPiece tokenizer with BERT's special tokens and a fixed vocabulary: every word of `texts`
    plus single characters and their ## continuations (so any ASCII word tokenises). Not trained:
    `WordPieceTrainer` breaks ties in an order that changes between processes, so tiny-model tests
    built on a trained vocabulary passed or failed from run to run."""
    import string

    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    normalizer = normalizers.BertNormalizer(lowercase=True)
    pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    words = {w for text in texts for w, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(text))}
    chars = sorted(set(string.ascii_lowercase + string.digits + string.punctuation))
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    vocab = specials + sorted(words - set(chars)) + chars + ["##" + c for c in chars]
    tokenizer = Tokenizer(models.WordPiece({token: i for i, token in enumerate(vocab)}, unk_token="[UNK]"))
    tokenizer.normalizer = normalizer
    tokenizer.pre_tokenizer = pre_tokenizer
    tokenizer.add_special_tokens(specials)          # as a trained tokenizer has them (decode skips them)
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    path.parent.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(path))
    return path


def mpnet_style_tokenizer(path: Path) -> Path:
    """fixed_wordpiece with MPNet's layout: BERT's specials stay in the vocabulary, but `<s> $A </s>`
    wraps a sequence and `<pad>` pads (all-mpnet-base-v2's tokenizer.json is built this way)."""
    from tokenizers import Tokenizer, processors
    fixed_wordpiece(CORPUS, path)
    tokenizer = Tokenizer.from_file(str(path))
    extra = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    tokenizer.add_special_tokens(extra)
    ids = {t: tokenizer.token_to_id(t) for t in extra}
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", special_tokens=[("<s>", ids["<s>"]), ("</s>", ids["</s>"])])
    tokenizer.save(str(path))
    return path


def build_mpnet_with_tokenizer(folder: Path, seed: int = 0) -> Path:
    """A 2-layer MPNet (no token type embeddings, RoBERTa-style specials) as a local base model."""
    import torch
    from tokenizers import Tokenizer
    from transformers import MPNetConfig, MPNetModel
    tokenizer_path = mpnet_style_tokenizer(folder / "tokenizer.json")
    tokenizer = Tokenizer.from_file(str(tokenizer_path))
    torch.manual_seed(seed)
    config = MPNetConfig(vocab_size=tokenizer.get_vocab_size(), hidden_size=32, num_hidden_layers=2,
                         num_attention_heads=2, intermediate_size=64, max_position_embeddings=260,
                         pad_token_id=tokenizer.token_to_id("<pad>"))
    MPNetModel(config).save_pretrained(folder, safe_serialization=True)
    return folder


def build_tokenizer(path: Path) -> Path:
    """The tiny encoder tests' tokenizer: the words of CORPUS (fixed_wordpiece)."""
    return fixed_wordpiece(CORPUS, path)


def build_encoder(folder: Path, vocab_size: int, seed: int = 0) -> Path:
    """A 2-layer BERT with random weights (hidden 32), saved like any local checkpoint."""
    import torch
    from transformers import BertConfig, BertModel
    torch.manual_seed(seed)
    config = BertConfig(vocab_size=vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=256)
    BertModel(config).save_pretrained(folder, safe_serialization=True)
    return folder


def build_checkpoint(folder: Path, seed: int = 0, max_tokens: int = 96) -> Path:
    """A random multi-head checkpoint with the default model's tasks, saved by the project's code."""
    import shutil

    import torch
    from tokenizers import Tokenizer
    from transformers import BertModel

    from empathy_metric.pipeline.windows import WindowSettings
    from empathy_metric.schemas import DEFAULT_TASKS, PERCEIVED_DIMENSIONS
    from empathy_metric.training.model import MultiHeadEncoder, save_checkpoint
    tokenizer_path = build_tokenizer(folder / "build" / "tokenizer.json")
    vocab = Tokenizer.from_file(str(tokenizer_path)).get_vocab_size()
    encoder_dir = build_encoder(folder / "build" / "encoder", vocab, seed)
    torch.manual_seed(seed)
    model = MultiHeadEncoder(BertModel.from_pretrained(encoder_dir), {t.name: len(t.labels) for t in DEFAULT_TASKS},
                             len(PERCEIVED_DIMENSIONS))
    config = {"tasks": [t.to_dict() for t in DEFAULT_TASKS], "perceived": list(PERCEIVED_DIMENSIONS),
              "window": WindowSettings(max_tokens=max_tokens).to_dict(), "base_model": "tiny-bert"}
    ckpt = folder / "checkpoint"
    save_checkpoint(model, ckpt, config)
    shutil.copy(tokenizer_path, ckpt / "tokenizer.json")
    (folder / "build" / "config.json").write_text(json.dumps({"vocab_size": vocab}))
    return ckpt


def build_encoder_with_tokenizer(folder: Path, seed: int = 0) -> Path:
    """A local 'base model' folder as `empathy-score train --base-model` expects: weights + tokenizer.json."""
    import shutil

    from tokenizers import Tokenizer
    tokenizer_path = build_tokenizer(folder / "tok" / "tokenizer.json")
    build_encoder(folder, Tokenizer.from_file(str(tokenizer_path)).get_vocab_size(), seed)
    shutil.copy(tokenizer_path, folder / "tokenizer.json")
    return folder


STRATEGY_TEXTS = {
    "Question": "what happened after that ?", "Restatement or Paraphrasing": "so you lost your job .",
    "Reflection of feelings": "you feel so sad and alone .", "Self-disclosure": "i felt the same when i lost my job .",
    "Affirmation and Reassurance": "you are doing great , keep going .",
    "Providing Suggestions": "maybe try talking to a friend about it .",
    "Information": "here is some information about the service .", "Others": "hello , how are you today ?",
}


def build_data_dir(folder: Path, dialogues: int = 12) -> Path:
    """A tiny data folder in the layout of ../shared/data (ESConv JSONL + three EMH CSVs), made-up text."""
    import csv
    strategies = list(STRATEGY_TEXTS)
    (folder / "esconv").mkdir(parents=True, exist_ok=True)
    for split, count in (("train", dialogues), ("valid", max(2, dialogues // 3))):
        with open(folder / "esconv" / f"{split}.json", "w") as handle:
            for d in range(count):
                turns = []
                for t in range(4):
                    strategy = strategies[(d + t) % len(strategies)]
                    turns += [{"speaker": "usr", "text": "i feel so sad and alone ."},
                              {"speaker": "sys", "text": STRATEGY_TEXTS[strategy], "strategy": strategy}]
                survey = {"seeker": {"empathy": str(1 + d % 5), "relevance": str(1 + (d + 1) % 5),
                                     "initial_emotion_intensity": "4", "final_emotion_intensity": str(1 + d % 4)}}
                handle.write(json.dumps({"dialog": turns, "survey_score": survey}) + "\n")
    (folder / "emh").mkdir(exist_ok=True)
    responses = ["i am sorry to hear that , it sounds really hard .", "what happened after that ?",
                 "maybe try talking to a friend about it ."]
    for name in ("emotional-reactions", "interpretations", "explorations"):
        with open(folder / "emh" / f"{name}-reddit.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["sp_id", "rp_id", "seeker_post", "response_post", "level", "rationales"])
            for i in range(30):
                rationale = "" if i % 3 == 0 else " ".join(responses[i % 3].split()[:3]) + "|"
                writer.writerow([f"s{i}", f"r{i}", "i feel so sad and alone .", responses[i % 3], i % 3,
                                 rationale])
    build_wassa(folder / "wassa23", max(2, dialogues // 2))
    build_feedback(folder / "esconv")
    return folder


def build_feedback(esconv: Path) -> None:
    """valid_feedback.jsonl for valid.json: a 1..5 rating on every second seeker turn."""
    lines = []
    for number, line in enumerate((esconv / "valid.json").read_text().splitlines(), start=1):
        seeker = [i for i, t in enumerate(json.loads(line)["dialog"]) if t["speaker"] == "usr"]
        ratings = [{"turn_index": i, "feedback": 1 + (number + k) % 5} for k, i in enumerate(seeker[2::2])]
        lines.append(json.dumps({"line": number, "situation": "", "feedback": ratings}))
    (esconv / "valid_feedback.jsonl").write_text("\n".join(lines) + "\n")


def build_wassa(folder: Path, conversations: int) -> None:
    """WASSA 2023 CONV files: `PREVIOUS<s>TARGET</s>NEXT` lines and `polarity intensity empathy` labels."""
    folder.mkdir(parents=True, exist_ok=True)
    texts = ["i read the article about the flood .", "that is so sad , i feel for those families .",
             "yes , it is terrible what they went through .", "ok ."]
    for split, count in (("train", conversations), ("dev", max(2, conversations // 2))):
        lines, labels = [], []
        for c in range(count):
            turns = [f"{t} ({c})" for t in texts]
            for i, turn in enumerate(turns):
                before = turns[i - 1] if i else ""
                after = turns[i + 1] if i + 1 < len(turns) else ""
                lines.append(f"{before}<s>{turn}</s>{after}")
                labels.append(f"1.0 2.0 {(1 + i + c) % 4 + 0.5:.4f}")
        (folder / f"{split}_context_w1.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
        (folder / f"{split}_context_labels.txt").write_text("\n".join(labels) + "\n", encoding="utf-8")
