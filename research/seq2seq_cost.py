"""CPU cost of scoring: utterances/s (and (window, prompt) pairs/s for seq2seq) per bundle, on the
same windows, bundles interleaved, median of 3 timed runs after a warm-up.
Usage: python research/seq2seq_cost.py WINDOWS_FILE(ESConv JSONL) N_DIALOGUES BUNDLE...   (prints one JSON line per bundle)"""
import itertools
import json
import statistics
import sys
import time

from empathy_metric.bundle import load_bundle
from empathy_metric.io.readers import ReaderOptions, read_dialogues
from empathy_metric.pipeline.windows import windows_of
from empathy_metric.runtime import load_backend

roles = frozenset({"sys"})
dialogues = list(itertools.islice(read_dialogues(sys.argv[1], ReaderOptions(format="esconv", agent_roles=roles)),
                                  int(sys.argv[2])))
runs = {}
for path in sys.argv[3:]:
    bundle = load_bundle(path)
    backend = load_backend(bundle, "cpu")
    windows = windows_of(dialogues, bundle.window, roles)
    backend.predict(windows[:8])                                   # warm-up
    prompts = len(bundle.manifest.get("seq2seq", {}).get("prompts", [])) or 1
    runs[path] = (backend, windows, prompts, [])
for _ in range(3):
    for path, (backend, windows, prompts, times) in runs.items():
        start = time.perf_counter()
        backend.predict(windows)
        times.append(time.perf_counter() - start)
for path, (backend, windows, prompts, times) in runs.items():
    t = statistics.median(times)
    print(json.dumps({"bundle": path, "backend": load_bundle(path).backend, "utterances": len(windows),
                      "prompts_per_utterance": prompts, "seconds_median": round(t, 3),
                      "utterances_per_s": round(len(windows) / t, 2),
                      "pairs_per_s": round(len(windows) * prompts / t, 2)}))
