#!/usr/bin/env bash
# --workers and --engine ray on this machine: the ceiling (inference replaced by zeros) and the real
# model end to end (and --engine ray writing shards, -o DIR/), one run after the other, with the load
# average before and after each.
#
#   bash benchmarks/scale.sh BUNDLE CEILING_INPUT E2E_INPUT [WORKERS]
#
# BUNDLE: a model bundle (the shipped one: empathy_metric/models/minilm-empathy-v4); inputs: JSONL
# logs (benchmarks/make_dialogues.py writes them); WORKERS (default 2) is compared with 1.
# Everything it writes goes to a temporary folder; the per-turn outputs are compared byte for byte.
set -uo pipefail
bundle=${1:?bundle} ceiling_input=${2:?ceiling input} e2e_input=${3:?end-to-end input} n=${4:-2}
py=${PYTHON:-python3}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
load() { echo "load $(cut -d' ' -f1-3 /proc/loadavg)"; }
timed() {  # timed NAME COMMAND...: the command's first stdout line, then its wall and CPU seconds
  local name=$1; shift    # (with its child processes), and the load average after it
  /usr/bin/time -o "$tmp/time" -f "$name: %e s wall, %U s user + %S s system" "$@" 2>/dev/null | sed -n 1p
  echo "$(cat "$tmp/time"), $(load)"
}
echo "$(nproc) usable cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2), $(load)"
for w in 1 "$n"; do
  timed "ceiling --workers $w" $py benchmarks/ceiling.py "$ceiling_input" --bundle "$bundle" --bootstrap 0 \
    --workers "$w"
done
# one process whose tokenizer runs on one thread: the CPU stages on one core
RAYON_NUM_THREADS=1 timed "ceiling --workers 1, tokenizer on one thread" $py benchmarks/ceiling.py \
  "$ceiling_input" --bundle "$bundle" --bootstrap 0 --workers 1
for run in "local 1" "local $n" "ray $n"; do
  set -- $run
  timed "end to end --engine $1 --workers $2" $py -m empathy_metric.cli.main score "$e2e_input" -m "$bundle" -q \
    --engine "$1" --workers "$2" -o "$tmp/$1-$2.jsonl" -o "$tmp/$1-$2.json"
done
# the per-turn records as shards written by the cluster (-o DIR/), against -o turns.jsonl just above
timed "end to end --engine ray --workers $n -o DIR/" $py -m empathy_metric.cli.main score "$e2e_input" -m "$bundle" \
  -q --engine ray --workers "$n" -o "$tmp/shards/" -o "$tmp/shards.json"
cmp "$tmp/local-1.jsonl" "$tmp/local-$n.jsonl" && cmp "$tmp/local-1.jsonl" "$tmp/ray-$n.jsonl" \
  && cmp "$tmp/local-1.json" "$tmp/local-$n.json" && cmp "$tmp/local-1.json" "$tmp/ray-$n.json" \
  && echo "per-turn outputs and summaries byte-identical"
cmp <(sort "$tmp/local-1.jsonl") <(cat "$tmp"/shards/*.jsonl | sort) && cmp "$tmp/local-1.json" "$tmp/shards.json" \
  && echo "shards: the same per-turn lines ($(ls "$tmp/shards" | wc -l) files), summary byte-identical"
$py -c "import json, sys; print(json.load(open(sys.argv[1]))['counts']['turns_scored'], 'utterances end to end')" \
  "$tmp/local-1.json"
