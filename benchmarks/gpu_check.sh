#!/usr/bin/env bash
# GPU benchmark in two steps, for a session that is lent a GPU machine (see BENCHMARKS.md).
#
#   1. here (CPU machine, repo root, export stack in .venv):
#        bash benchmarks/gpu_check.sh prepare CHECKPOINT
#      exports the checkpoint's fp16 graph with the project's export code, packs it with the checkpoint
#      (torch baselines), the ESConv files (input) and the onnxruntime-gpu wheel (the GPU machine has
#      no network), splits the pack into chunks that fit one device call each, and prints the calls.
#   2. there, the printed device calls, back to back; the last one runs
#        bash benchmarks/gpu_check.sh run SHA256
#      which unpacks, installs the wheel into /tmp/site, checks the CUDA provider, and runs
#      benchmarks/run.py --device cuda on ESConv valid (quality) and on generated dialogues (speed),
#      plus a profile of the CLI; results land in $OUT.
set -euo pipefail
mode=${1:?usage: gpu_check.sh prepare CHECKPOINT | run SHA256}
ORT_GPU_VERSION=${ORT_GPU_VERSION:-1.31.1}    # built for CUDA 13 + cuDNN 9, like the lent machines
GEN_DIALOGUES=${GEN_DIALOGUES:-10000}         # ~73k scored utterances (the call must end within 9 min)

if [ "$mode" = prepare ]; then
  ckpt=$(realpath "${2:?usage: gpu_check.sh prepare CHECKPOINT}")
  top=$(git rev-parse --show-toplevel); cd "$top"
  grep -qx "/.gpubench/" .git/info/exclude 2>/dev/null || echo "/.gpubench/" >> .git/info/exclude
  py=${PYTHON:-.venv/bin/python}
  rm -rf .gpubench && mkdir -p .gpubench/pack/bundles .gpubench/pack/esconv .gpubench/build
  # the fp16 graph, by the project's export code (validated against torch; parity in its manifest)
  "$py" benchmarks/exports.py --checkpoint "$ckpt" --input ../shared/data/esconv/valid.json \
      --work-dir .gpubench/build ort-fp16
  # carry only what CUDA runs: a bundle whose model is the fp16 graph (the fp32 graph stays here)
  "$py" - <<'EOF'
import json, shutil
from pathlib import Path
from empathy_metric.bundle import write_manifest
src, dst = Path(".gpubench/build/ort-fp16"), Path(".gpubench/pack/bundles/ort-fp16")
dst.mkdir(parents=True)
manifest = json.loads((src / "manifest.json").read_text())
for name in ("model.fp16.onnx", "tokenizer.json", "README.md"):
    shutil.copy(src / name, dst / name)
manifest["files"] = {"model": "model.fp16.onnx", "tokenizer": "tokenizer.json", "card": "README.md"}
manifest["runtime"]["precision"] = "fp16"
write_manifest(dst, manifest)
EOF
  cp -r "$ckpt" .gpubench/pack/checkpoint
  cp ../shared/data/esconv/train.json ../shared/data/esconv/valid.json .gpubench/pack/esconv/
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    -d .gpubench/pack/wheel "onnxruntime-gpu==$ORT_GPU_VERSION"
  tar -C .gpubench -cf .gpubench/pack.tar pack
  sum=$(sha256sum .gpubench/pack.tar | cut -d' ' -f1)
  # what travels with every call anyway: tracked files + untracked files git does not ignore
  tree=$( (git ls-files -z; git ls-files -z --others --exclude-standard) | xargs -0 -r du -cb 2>/dev/null | tail -1 | cut -f1)
  room=$(( 64*1024*1024 - tree - 2*1024*1024 ))
  split -b "$room" -d -a 2 .gpubench/pack.tar .gpubench/part
  n=0; for p in .gpubench/part*; do mkdir -p .gpubench/c$n; mv "$p" .gpubench/c$n/part; n=$((n+1)); done
  rm -rf .gpubench/pack .gpubench/pack.tar
  echo "$n chunks of up to $((room/1048576)) MiB. Device calls, back to back (each within 30 s of the last):"
  for i in $(seq 0 $((n-1))); do
    op=">>"; [ "$i" -eq 0 ] && op=">"
    cmd="mkdir -p /tmp/g && cat .gpubench/c$i/part $op /tmp/g/pack.tar"
    [ "$i" -eq $((n-1)) ] && cmd="$cmd && bash benchmarks/gpu_check.sh run $sum"
    echo "  run carry=[\".gpubench/c$i\"] timeout_s=$([ "$i" -eq $((n-1)) ] && echo 540 || echo 120) command: $cmd"
  done
  exit 0
fi

[ "$mode" = run ] || { echo "unknown mode $mode"; exit 2; }
sum=${2:?usage: gpu_check.sh run SHA256}
out=${OUT:-/tmp/gpu-out}; mkdir -p "$out"
export PYTHONUNBUFFERED=1
echo "$sum  /tmp/g/pack.tar" | sha256sum -c -
tar -C /tmp/g -xf /tmp/g/pack.tar
python3 -m pip install -q --no-index --no-deps --target /tmp/site /tmp/g/pack/wheel/*.whl
export PYTHONPATH=/tmp/site:$PWD
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/gpu.txt"
python3 -c 'import onnxruntime as o; o.preload_dlls(); print("ORT", o.__version__, o.get_available_providers())' \
  | tee -a "$out/gpu.txt"
P=/tmp/g/pack
variants=torch-eager,torch-fp16,ort-cuda-fp16,cli
# quality and agreement on the real ESConv valid set (2,722 utterances: too few to time a GPU)
python3 benchmarks/run.py --device cuda --checkpoint $P/checkpoint --bundles $P/bundles \
  --input $P/esconv/valid.json --only $variants --work-dir /tmp/g/valid \
  --out-md "$out/gpu_valid.md" --out-json "$out/gpu_valid.json" 2>&1 | tee "$out/log_valid.txt"
# speed on generated dialogues (turns of ESConv recombined)
python3 benchmarks/make_dialogues.py "$GEN_DIALOGUES" /tmp/g/gen.jsonl --data $P/esconv
python3 benchmarks/run.py --device cuda --checkpoint $P/checkpoint --bundles $P/bundles \
  --input /tmp/g/gen.jsonl --only $variants --work-dir /tmp/g/gen \
  --out-md "$out/gpu_gen.md" --out-json "$out/gpu_gen.json" 2>&1 | tee "$out/log_gen.txt"
# where the end-to-end time goes (main thread; the GPU thread shows as waiting)
python3 -m cProfile -o /tmp/g/cli.prof -m empathy_metric.cli.main score /tmp/g/gen.jsonl \
  -m $P/bundles/ort-fp16 -o /tmp/g/prof.jsonl -q --device cuda --max-batch-tokens 262144 --batch-size 2048
python3 -c "import pstats; pstats.Stats('/tmp/g/cli.prof').sort_stats('cumulative').print_stats(40)" \
  > "$out/cli_profile.txt"
python3 -c "import pstats; pstats.Stats('/tmp/g/cli.prof').sort_stats('tottime').print_stats(25)" \
  >> "$out/cli_profile.txt"
echo "done: $out"
