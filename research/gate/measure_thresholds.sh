#!/usr/bin/env bash
# The measured baseline behind every threshold in README.md and docs/ci-gating.md (issue 34):
# ESConv valid.json replayed as a release (the real supporters) and as regressed releases, scored by
# the shipped default model; every gate of the docs run on both. Run from the repository root:
#   bash research/gate/measure_thresholds.sh ../shared/data/esconv/valid.json runs/gate > research/gate/thresholds.txt
# (ESConv is research-licensed: runs/ is never committed.)
set -u
valid=${1:-../shared/data/esconv/valid.json}
out=${2:-runs/gate}
score() { python -m empathy_metric.cli.main "$@"; }
mkdir -p "$out"
python research/perceived/make_releases.py "$valid" "$out/releases"
for release in base no_op off_topic canned curt padded; do
  score score "$out/releases/$release.jsonl" -q -o "$out/$release.turns.jsonl" -o "$out/$release.json"
  python - "$out/$release.json" "$release" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
for m in ("perceived.empathy", "emh_explorations.mean_level", "emh_emotional_reactions.rate.none",
          "emh_interpretations.mean_level"):
    e = s["corpus"][m]
    print(f"{sys.argv[2]:>10} {m:<36} {e['mean']:.3f} [{e['ci_low']:.3f}, {e['ci_high']:.3f}] n={e['n_dialogues']}")
PY
done
score gates suggest "$out/base.json" -o "$out/gates.toml"
echo "--- gates suggested from base:"; cat "$out/gates.toml"
gates() {   # the gates of README and docs/ci-gating.md, on one release
  echo "--- $1: README score gates"
  score score "$out/$1.turns.jsonl" -q --bootstrap 1000 --fail-under perceived.empathy=0.32 \
      --fail-under emh_explorations.mean_level=0.65 --max-share 'perceived.empathy<0.25=0.2' --min-dialogues 50 2>&1
  echo "exit $?"
  echo "--- $1: docs/ci-gating.md score gates"
  score score "$out/$1.turns.jsonl" -q --fail-under perceived.empathy=0.32 \
      --fail-over emh_emotional_reactions.rate.none=0.60 --max-share 'perceived.empathy<0.25=0.2' --min-dialogues 100 2>&1
  echo "exit $?"
  echo "--- $1: suggested gates (--gates gates.toml)"
  score score "$out/$1.turns.jsonl" -q --gates "$out/gates.toml" 2>&1 | grep -v '^PASS'
  echo "exit ${PIPESTATUS[0]}"
}
for release in base canned curt off_topic; do gates "$release"; done
for release in no_op off_topic canned curt padded; do
  echo "--- compare base $release"
  score compare "$out/base.turns.jsonl" "$out/$release.turns.jsonl" -q --max-drop perceived.empathy=0.02 \
      --max-drop emh_interpretations.mean_level=0.05 --min-dialogues 100 -o "$out/compare-$release.json" 2>&1
  echo "exit $?"
done
