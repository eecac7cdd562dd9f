"""Tiny seq2seq models built locally for the seq2seq tests (no hub): a 2-layer T5 (d_model 32) and a
warm-start base (a tiny BERT), sharing a WordPiece tokenizer in which yes/no/none are whole tokens
and weak/strong are not, so both the one-step and the teacher-forced paths of rank classification
run. The other test_seq2seq_* modules import these builders."""
from __future__ import annotations

from pathlib import Path

from builders import CORPUS, fixed_wordpiece

VERBALISER_CORPUS = ["yes", "no", "none", "yes or no", "none of it", "no , yes"]


def instruction_texts() -> list[str]:
    """The stored instructions, so that prompts tokenise to words, not letters (short test inputs);
    without 'weak' and 'strong', which must stay multi-token verbalisers."""
    import re

    from empathy_metric.runtime.seq2seq.prompts import load_instructions
    library = load_instructions()
    texts = [v for entry in library["prompts"].values() for k, v in entry.items() if isinstance(v, str)]
    texts += list(library["domains"].values()) + [f["before"] for f in library["format"].values()]
    return [re.sub(r"weak|strong", " ", t, flags=re.IGNORECASE) for t in texts]


def build_seq2seq_tokenizer(path: Path) -> Path:
    return fixed_wordpiece(CORPUS + VERBALISER_CORPUS + instruction_texts(), path)


def build_tiny_t5(folder: Path, seed: int = 0) -> Path:
    """A random T5 (d_model 32, 2 layers) saved like any local checkpoint, with tokenizer.json."""
    import torch
    from tokenizers import Tokenizer
    from transformers import T5Config, T5ForConditionalGeneration
    tokenizer = build_seq2seq_tokenizer(folder / "tokenizer.json")
    torch.manual_seed(seed)
    config = T5Config(vocab_size=Tokenizer.from_file(str(tokenizer)).get_vocab_size(), d_model=32, d_kv=16,
                      d_ff=64, num_layers=2, num_heads=2, pad_token_id=0, eos_token_id=3,
                      decoder_start_token_id=0, dropout_rate=0.0)
    T5ForConditionalGeneration(config).save_pretrained(str(folder))
    return folder


def build_tiny_bert_base(folder: Path, seed: int = 0) -> Path:
    """An encoder-only base (like MiniLM: 512 positions) for the EncoderDecoderModel warm start."""
    import torch
    from tokenizers import Tokenizer
    from transformers import BertConfig, BertModel
    tokenizer = build_seq2seq_tokenizer(folder / "tokenizer.json")
    torch.manual_seed(seed)
    config = BertConfig(vocab_size=Tokenizer.from_file(str(tokenizer)).get_vocab_size(), hidden_size=32,
                        num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                        max_position_embeddings=512)
    BertModel(config).save_pretrained(str(folder))
    return folder


def test_tiny_tokenizer_has_single_and_multi_token_verbalisers(tmp_path):
    from tokenizers import Tokenizer
    tokenizer = Tokenizer.from_file(str(build_seq2seq_tokenizer(tmp_path / "tokenizer.json")))
    lengths = {w: len(tokenizer.encode(w, add_special_tokens=False).ids)
               for w in ("yes", "no", "none", "weak", "strong")}
    assert lengths["yes"] == lengths["no"] == lengths["none"] == 1
    assert lengths["weak"] > 1 and lengths["strong"] > 1


SEEKER_LINES = ["i feel so sad and alone .", "exams stress me out", "my order arrived broken and i need help",
                "please reset my password", "thank you for listening ."]


def labelled_windows(n_esconv: int = 10, n_emh: int = 10):
    """Distinct two-turn dialogues with gold labels: ESConv strategies and EMH levels, cycling."""
    import numpy as np

    from empathy_metric.dialogue import Dialogue, Turn
    from empathy_metric.pipeline.windows import WindowSettings, dialogue_windows
    from empathy_metric.schemas import ESCONV_STRATEGY
    from empathy_metric.training.data import LabelledWindow
    settings = WindowSettings(max_tokens=64)
    nan = np.full(2, np.nan, dtype=np.float32)   # PERCEIVED_DIMENSIONS
    found = []
    for i in range(n_esconv + n_emh):
        reply = f"{CORPUS[i % 12]} {CORPUS[(i * 5 + 3) % 12]}"
        dialogue = Dialogue(f"d{i}", [Turn("usr", SEEKER_LINES[i % 5], 0), Turn("sys", reply, 1)])
        window = dialogue_windows(dialogue, settings, frozenset({"sys"}))[0]
        if i < n_esconv:
            labels = {ESCONV_STRATEGY.name: i % len(ESCONV_STRATEGY.labels)}
            found.append(LabelledWindow(window, labels, nan.copy(), f"d{i}", "esconv"))
        else:
            labels = {"emh_emotional_reactions": i % 3, "emh_interpretations": (i + 1) % 3,
                      "emh_explorations": (i // 3) % 3}
            found.append(LabelledWindow(window, labels, nan.copy(), f"d{i}", "emh"))
    return found, settings


def write_data_folder(folder: Path, n_train: int = 16, n_valid: int = 4, n_emh: int = 16) -> Path:
    """A tiny labelled data folder in the layout of ../shared/data (ESConv JSONL, EPITOME CSVs)."""
    import csv
    import json
    strategies = ["Question", "Restatement or Paraphrasing", "Reflection of feelings", "Self-disclosure",
                  "Affirmation and Reassurance", "Providing Suggestions", "Information", "Others"]

    def dialogue(k: int) -> dict:
        turns = []
        for t in range(3):
            turns.append({"text": SEEKER_LINES[(k + t) % 5], "speaker": "usr"})
            turns.append({"text": CORPUS[(k * 3 + t) % 12], "speaker": "sys",
                          "strategy": strategies[(k + 2 * t) % 8]})
        survey = {"initial_emotion_intensity": str(4 + k % 2), "final_emotion_intensity": str(1 + k % 3),
                  "empathy": str(1 + k % 5), "relevance": str(5 - k % 3)}
        return {"emotion_type": "sadness", "problem_type": "job crisis", "situation": "test",
                "survey_score": {"seeker": survey}, "dialog": turns}

    (folder / "esconv").mkdir(parents=True, exist_ok=True)
    for name, ks in (("train.json", range(n_train)), ("valid.json", range(n_train, n_train + n_valid))):
        (folder / "esconv" / name).write_text("".join(json.dumps(dialogue(k)) + "\n" for k in ks))
    (folder / "emh").mkdir(exist_ok=True)
    for offset, name in enumerate(("emotional-reactions-reddit.csv", "interpretations-reddit.csv",
                                   "explorations-reddit.csv")):
        with open(folder / "emh" / name, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["sp_id", "rp_id", "seeker_post", "response_post", "level", "rationales"])
            for k in range(n_emh):
                writer.writerow([f"sp{k // 2}", f"rp{k}", SEEKER_LINES[k % 5], CORPUS[(k * 7) % 12],
                                 (k + offset) % 3, ""])
    from builders import build_feedback, build_wassa
    build_wassa(folder / "wassa23", 4)
    build_feedback(folder / "esconv")
    return folder
