#!/usr/bin/env bash
# The measured baseline behind every threshold in README.md and docs/ci-gating.md (issue 34):
# ESConv valid.json replayed as a release (the real supporters) and as regressed releases, scored by
# the shipped default model, with every score gate of the docs and the gates `gates suggest` derives
# from the supporters' run. Run from the repository root:
#   bash research/gate/measure_thresholds.sh ../shared/data/esconv/valid.json runs/gate > research/gate/thresholds.txt
# (ESConv is research-licensed: runs/ is never committed.) tests/test_docs_examples.py reads the
# verdicts below: every perceived.empathy floor of the docs must PASS base and FAIL canned.
set -u
valid=${1:-../shared/data/esconv/valid.json}
out=${2:-runs/gate}
score() { python -m empathy_metric.cli.main "$@"; }
means() {
  python - "$1" "$2" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
for m in ("perceived.empathy", "perceived.relevance", "emh_explorations.mean_level", "emh_emotional_reactions.rate.none",
          "emh_interpretations.mean_level"):
    e = s["corpus"][m]
    print(f"{sys.argv[2]:>10} {m:<36} {e['mean']:.3f} [{e['ci_low']:.3f}, {e['ci_high']:.3f}] n={e['n_dialogues']}")
PY
}
mkdir -p "$out"
python research/perceived/make_releases.py "$valid" "$out/releases"
score score "$out/releases/base.jsonl" -q -o "$out/base.turns.jsonl" -o "$out/base.json"
means "$out/base.json" base
score gates suggest "$out/base.json" -o "$out/gates.toml"
echo "--- gates suggested from base:"; cat "$out/gates.toml"
# Every score gate of README.md and docs/ci-gating.md, and the suggested gates, in one run per release:
# each gate's PASS/FAIL line is its verdict on that release.
for release in base no_op off_topic canned curt padded; do
  echo "--- score $release"
  score score "$out/releases/$release.jsonl" -q --min-dialogues 100 \
      --fail-under perceived.empathy=0.29 --fail-under perceived.relevance=0.5 --fail-under emh_explorations.mean_level=0.65 \
      --fail-over emh_emotional_reactions.rate.none=0.46 --max-share 'perceived.empathy<0.22=0.2' \
      --gates "$out/gates.toml" -o "$out/$release.turns.jsonl" -o "$out/gated-$release.json" 2>&1
  echo "exit $?"
  means "$out/gated-$release.json" "$release"
done
for release in no_op off_topic canned curt padded; do
  echo "--- compare base $release"   # saved per-turn scores of one model: no model run
  score compare "$out/base.turns.jsonl" "$out/$release.turns.jsonl" -q --max-drop perceived.empathy=0.02 \
      --max-drop perceived.relevance=0.05 --max-drop emh_interpretations.mean_level=0.05 --min-dialogues 100 -o "$out/compare-$release.json" 2>&1
  echo "exit $?"
  python - "$out/compare-$release.json" <<'PY'
import json, sys
metrics = json.load(open(sys.argv[1]))["metrics"]
for m in ("perceived.empathy", "perceived.relevance"):
    e = metrics[m]
    print(f"{m} delta {e['delta']:+.3f} [{e['ci_low']:+.3f}, {e['ci_high']:+.3f}]")
PY
done
