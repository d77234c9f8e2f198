#!/usr/bin/env bash
# arat robustness gate for any CI (or a laptop): evaluates an ONNX model with a suite, writes
# report.json, report.md, junit.xml and plots into OUT, publishes the Markdown summary where the CI
# shows one, and exits with arat's code:
#   0 every gate passed, 1 a gate failed, 2 usage/spec/input error, 3 untrusted measurement, 4 internal error.
#
# Usage:  ci/arat-gate.sh MODEL.onnx SUITE.yaml|BUILTIN [OUT]
# Environment (all optional):
#   ARAT       the arat launcher (default: "arat" on PATH, else ./arat)
#   ARAT_JAR   the runnable jar arat-<version>.jar, run with java -jar (used when ARAT is unset)
#   SHARDS     run the suite as N local shards in parallel, then merge (default 1: one run)
#   BASELINE   a previous report.json: adds the max_robust_drop gate's comparison and lists newly broken samples
#   DATA       dataset folder (overrides the suite's data.path)
#   DATASET    dataset name (overrides the suite's data.dataset, e.g. cifar10 or folder:PATH)
#   THREADS    ONNX Runtime intra-op threads per process (default 0 = all cores; with SHARDS>1, cores/SHARDS)
#   PROVIDER   cpu (default), cuda or tensorrt (needs arat built with -Darat.gpu and a GPU)
#   FRESH      set to 1 to discard an existing ledger in OUT instead of resuming from it
set -uo pipefail

usage() {
  # the comment block at the top of this file, without the '#'
  sed -n '2,/^[^#]/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'
}
case "${1:-}" in
  -h|--help) usage; exit 0 ;;
esac
if [ $# -lt 2 ] || [ $# -gt 3 ]; then
  echo "arat-gate: expected MODEL.onnx SUITE [OUT], got $# argument(s)" >&2
  usage >&2
  exit 2
fi
model="$1"
suite="$2"
out="${3:-arat-report}"
shards="${SHARDS:-1}"
provider="${PROVIDER:-cpu}"

if [ -n "${ARAT:-}" ]; then
  arat=("$ARAT")
elif [ -n "${ARAT_JAR:-}" ]; then
  arat=(java -jar "$ARAT_JAR")
elif command -v arat >/dev/null 2>&1; then
  arat=(arat)
elif [ -x ./arat ]; then
  arat=(./arat)
else
  echo "arat-gate: no arat launcher found; set ARAT=/path/to/arat" >&2
  exit 2
fi

common=(--model "$model" --suite "$suite" --provider "$provider")
[ -n "${DATA:-}" ] && common+=(--data "$DATA")
[ -n "${DATASET:-}" ] && common+=(--dataset "$DATASET")
[ "${FRESH:-0}" = 1 ] && common+=(--fresh)
baseline=()
[ -n "${BASELINE:-}" ] && [ -f "$BASELINE" ] && baseline=(--baseline "$BASELINE")

if [ "$shards" -le 1 ]; then
  "${arat[@]}" evaluate "${common[@]}" --threads "${THREADS:-0}" "${baseline[@]}" --out "$out"
  code=$?
else
  cores=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)
  threads="${THREADS:-$(( cores / shards > 0 ? cores / shards : 1 ))}"
  pids=()
  for k in $(seq 1 "$shards"); do
    "${arat[@]}" -q evaluate "${common[@]}" --threads "$threads" --shard "$k/$shards" --out "$out/shard-$k" &
    pids+=($!)
  done
  code=0
  for pid in "${pids[@]}"; do
    wait "$pid" || { c=$?; [ "$c" -gt "$code" ] && code=$c; }
  done
  if [ "$code" -eq 0 ] || [ "$code" -eq 3 ]; then
    shard_dirs=()
    for k in $(seq 1 "$shards"); do shard_dirs+=("$out/shard-$k"); done
    "${arat[@]}" merge "${shard_dirs[@]}" "${baseline[@]}" --out "$out"
    code=$?
  fi
fi

# Publish: GitHub's job summary if present, the log otherwise. junit.xml is left for the CI's test view.
if [ -f "$out/report.md" ]; then
  if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
    cat "$out/report.md" >> "$GITHUB_STEP_SUMMARY"
  else
    cat "$out/report.md"
  fi
fi
[ -f "$out/junit.xml" ] && echo "arat-gate: JUnit report $out/junit.xml"
case "$code" in
  0) echo "arat-gate: PASSED" ;;
  1) echo "arat-gate: FAILED (a gate failed)" ;;
  3) echo "arat-gate: UNTRUSTED (a fatal diagnostic; see report.md)" ;;
  *) echo "arat-gate: ERROR (exit $code)" ;;
esac
exit "$code"
