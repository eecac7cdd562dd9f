#!/usr/bin/env bash
# The shell step of action.yml (the empathy-score GitHub Action), kept in a file so that a test runs it
# with a simulated runner's GITHUB_OUTPUT / GITHUB_STEP_SUMMARY files (tests/test_action.py).
#
# Inputs (environment, set by action.yml from the Action's inputs; never interpolated into code):
#   INPUT_LOGS       the release's dialogue logs (required)
#   INPUT_BASELINE   the released bot's logs, or its saved per-turn scores (optional: then `compare`)
#   INPUT_GATES      a gates file (TOML) for score and compare (optional)
#   INPUT_ARGS       extra flags for `score`, split like a shell line (optional)
#   INPUT_COMPARE_ARGS  extra flags for `compare` (optional; settings that change scores, such as
#                    --no-future-context, go in both, or compare refuses to pair the two runs)
#   INPUT_MODEL      a bundle folder or shipped model name (optional)
#   INPUT_REPORT     'true': also write the HTML reports (needs the [report] extra)
#   OUTPUT_DIR       where the reports go (default: empathy-reports)
#   EMPATHY_SCORE    the command (default: empathy-score)
# Outputs ($GITHUB_OUTPUT): verdict (pass | fail | error), exit-code, gates-failed,
#   perceived-empathy, perceived-empathy-ci-low, perceived-empathy-ci-high, report-dir, comment-file.
# Exit code: the worst of score's and compare's (0 pass, 1 a gate failed, 2-4 errors: see README).
set -u
out=${OUTPUT_DIR:-empathy-reports}
read -r -a cli <<< "${EMPATHY_SCORE:-empathy-score}"
python=${EMPATHY_PYTHON:-python}
: "${INPUT_LOGS:?the Action needs the release logs (input: logs)}"
: "${GITHUB_OUTPUT:=/dev/null}" "${GITHUB_STEP_SUMMARY:=/dev/null}"
mkdir -p "$out"

words() {   # a flags line -> one word per line, split as a shell would (quotes kept together), never run
  "$python" -c 'import shlex, sys; print("\n".join(shlex.split(sys.argv[1])))' "$1"
}
extra=() compare_extra=()
[ -n "${INPUT_ARGS:-}" ] && mapfile -t extra < <(words "$INPUT_ARGS")
[ -n "${INPUT_COMPARE_ARGS:-}" ] && mapfile -t compare_extra < <(words "$INPUT_COMPARE_ARGS")
common=()
[ -n "${INPUT_MODEL:-}" ] && common+=(-m "$INPUT_MODEL")
[ -n "${INPUT_GATES:-}" ] && common+=(--gates "$INPUT_GATES")
html=()
[ "${INPUT_REPORT:-false}" = "true" ] && html=(-o "$out/report.html")

"${cli[@]}" score "$INPUT_LOGS" -q "${common[@]}" "${extra[@]}" -o "$out/turns.jsonl" -o "$out/summary.json" \
  -o "$out/summary.md" -o "$out/score.junit.xml" "${html[@]}"
code=$?
parts=("$out/summary.md")
if [ -n "${INPUT_BASELINE:-}" ] && [ "$code" -le 1 ]; then
  [ "${INPUT_REPORT:-false}" = "true" ] && html=(-o "$out/diff.html")
  "${cli[@]}" compare "$INPUT_BASELINE" "$out/turns.jsonl" -q "${common[@]}" "${compare_extra[@]}" -o "$out/compare.json" \
    -o "$out/diff.md" -o "$out/compare.junit.xml" "${html[@]}"
  compared=$?
  parts+=("$out/diff.md")
  if [ "$compared" -gt "$code" ]; then code=$compared; fi
fi

marker='<!-- empathy-score-gate -->'      # the PR comment that the Action keeps up to date carries it
{ echo "$marker"; for part in "${parts[@]}"; do [ -f "$part" ] && { cat "$part"; echo; }; done; } > "$out/comment.md"
for part in "${parts[@]}"; do [ -f "$part" ] && { cat "$part"; echo; } >> "$GITHUB_STEP_SUMMARY"; done

case $code in 0) verdict=pass ;; 1) verdict=fail ;; *) verdict=error ;; esac
{
  echo "verdict=$verdict"
  echo "exit-code=$code"
  echo "report-dir=$out"
  echo "comment-file=$out/comment.md"
  "$python" - "$out" <<'PY'
import json, os, sys
out = sys.argv[1]
failed = 0
for name in ("summary.json", "compare.json"):
    path = os.path.join(out, name)
    if os.path.exists(path):
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
        failed += sum(not g["passed"] for g in data.get("gates", []))
print(f"gates-failed={failed}")
path = os.path.join(out, "summary.json")
entry = {}
if os.path.exists(path):
    with open(path, encoding="utf-8") as handle:
        entry = json.load(handle)["corpus"].get("perceived.empathy", {})
for key, name in (("mean", "perceived-empathy"), ("ci_low", "perceived-empathy-ci-low"),
                  ("ci_high", "perceived-empathy-ci-high")):
    value = entry.get(key)
    print(f"{name}={'' if value is None else format(value, '.4f')}")
PY
} >> "$GITHUB_OUTPUT"
echo "empathy-score gate: $verdict (exit $code)" >&2
exit "$code"
