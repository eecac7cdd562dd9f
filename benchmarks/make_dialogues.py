"""Write N synthetic dialogues (JSONL, ESConv layout) by recombining turns of the shared ESConv data.

    python benchmarks/make_dialogues.py 100000 /tmp/esconv-100k.jsonl [--data ../shared/data/esconv]

Each generated dialogue takes the speaker sequence of a random ESConv dialogue and fills every turn
with a random turn of the same speaker (supporter turns keep their gold strategy), so lengths and
turn mix follow the real data. Seeded: the same N and seed give the same file. Streams: memory does
not grow with N. The data is research-only: write the output outside the repository (e.g. /tmp).
"""
from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = HERE.parent.parent / "shared" / "data" / "esconv"


def load_pool(data_dir: Path) -> tuple[list[list[str]], dict[str, list[dict]]]:
    """Speaker sequences of every dialogue, and every turn by speaker."""
    shapes, turns = [], {}
    for name in ("train.json", "valid.json"):
        with open(data_dir / name, encoding="utf-8") as handle:
            for line in handle:
                if not line.strip():
                    continue
                dialog = json.loads(line)["dialog"]
                shapes.append([t["speaker"] for t in dialog])
                for t in dialog:
                    turns.setdefault(t["speaker"], []).append(
                        {k: t[k] for k in ("text", "speaker", "strategy") if k in t})
    return shapes, turns


def write_dialogues(n: int, out: Path, data_dir: Path, seed: int = 0) -> int:
    shapes, turns = load_pool(data_dir)
    rng = random.Random(seed)
    n_turns = 0
    with open(out, "w", encoding="utf-8") as handle:
        for i in range(n):
            dialog = [rng.choice(turns[speaker]) for speaker in rng.choice(shapes)]
            n_turns += len(dialog)
            handle.write(json.dumps({"id": f"gen-{i:07d}", "dialog": dialog}, ensure_ascii=False) + "\n")
    return n_turns


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("n", type=int, help="number of dialogues")
    parser.add_argument("out", type=Path)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder with ESConv train.json/valid.json")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.out.resolve().is_relative_to(HERE.parent):
        parser.error("write generated data outside the repository (research-only licence), e.g. /tmp")
    n_turns = write_dialogues(args.n, args.out, args.data, args.seed)
    print(f"wrote {args.n} dialogues, {n_turns} turns, to {args.out}")


if __name__ == "__main__":
    main()
