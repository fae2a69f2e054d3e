#!/usr/bin/env bash
# Fuzzes every parser with libFuzzer: the model loader (with checkpoint state),
# the IDX loader, the image-list/PNG loader and the ONNX importer (onnx_import;
# needs libprotobuf-c-dev protobuf-c-compiler python3-onnx, docs/onnx.md). Builds build-fuzz with clang,
# ASan and UBSan, writes the seed corpora, then runs each harness in turn.
#   bash scripts/fuzz.sh [--time SECONDS | --runs N] [--rss-limit MB] [--timeout SECONDS]
#                        [HARNESS[:SECONDS]...]
# --time is per harness (default 60); HARNESS:SECONDS overrides it for one
# harness, e.g. `bash scripts/fuzz.sh --time 300` is the 5-minutes-per-harness
# campaign, `bash scripts/fuzz.sh idx:30 image_list:30` a quick check.
# Every input must finish within --timeout seconds (default 10) and the process
# stay within --rss-limit MB (default 2048, also the limit on one allocation):
# a few bytes that make a loader spend gigabytes or minutes are findings
# (issue #15), not slow runs. Inputs that crash or break a limit are saved to
# build-fuzz/findings/<harness>/; copy them to tests/fuzz/regressions/<harness>/
# so that every build replays them (ctest -R fuzz_replay, itself bounded).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

all=(model_load idx image_list onnx_import)
seconds=60
runs=""
rss_mb=2048
timeout_s=10
harnesses=()
declare -A own_time=()
usage() { # --help: on stdout, status 0; a bad command line: on stderr, status 2
  local to=2 status=2
  [ "${1:-}" = help ] && to=1 status=0
  echo "usage: $0 [--time SECONDS | --runs N] [--rss-limit MB] [--timeout SECONDS] [HARNESS[:SECONDS] ...]" >&"$to"
  echo "       harnesses: ${all[*]}" >&"$to"
  exit "$status"
}
positive() { [[ "$1" =~ ^[1-9][0-9]*$ ]] || { echo "$0: '$1' is not a positive whole number" >&2; usage; }; }
while [ $# -gt 0 ]; do
  case "$1" in
    --time) [ $# -ge 2 ] || usage; positive "$2"; seconds="$2"; shift 2 ;;
    --runs) [ $# -ge 2 ] || usage; positive "$2"; runs="$2"; shift 2 ;;
    --rss-limit) [ $# -ge 2 ] || usage; positive "$2"; rss_mb="$2"; shift 2 ;;
    --timeout) [ $# -ge 2 ] || usage; positive "$2"; timeout_s="$2"; shift 2 ;;
    -h | --help) usage help ;;
    model_load|idx|image_list|onnx_import) harnesses+=("$1"); shift ;;
    model_load:*|idx:*|image_list:*|onnx_import:*)
      h="${1%%:*}"; positive "${1#*:}"; own_time[$h]="${1#*:}"; harnesses+=("$h"); shift ;;
    *) usage ;;
  esac
done
[ ${#harnesses[@]} -gt 0 ] || harnesses=("${all[@]}")

dcnn_ensure_packages $DCNN_BASE_PACKAGES clang libclang-rt-14-dev libomp-14-dev
build="$DCNN_ROOT/build-fuzz"
mkdir -p "$build"
dcnn_log "configuring and building $build (clang, libFuzzer, ASan, UBSan)"
cmake -S "$DCNN_ROOT" -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DDCNN_FUZZ=ON \
  -DDCNN_BUILD_EXAMPLES=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$build/configure.log" 2>&1 \
  || { cat "$build/configure.log"; exit 1; }
# Only the harnesses and the corpus writer (static library): nothing else is fuzzed.
cmake --build "$build" -j "$(nproc)" --target make_fuzz_corpus $(printf 'fuzz_%s ' "${harnesses[@]}") \
  >"$build/build.log" 2>&1 || { grep -E "error|Error" "$build/build.log" | head -n 30; exit 1; }
"$build/tests/fuzz/make_fuzz_corpus" "$build/corpus-seeds" "$DCNN_ROOT" >/dev/null

status=0
for h in "${harnesses[@]}"; do
  corpus="$build/corpus/$h"
  findings="$build/findings/$h"
  mkdir -p "$corpus" "$findings"
  cp -n "$build/corpus-seeds/$h"/* "$corpus"/ 2>/dev/null || true
  if [ -n "$runs" ]; then limit=(-runs="$runs"); else limit=(-max_total_time="${own_time[$h]:-$seconds}"); fi
  dcnn_log "fuzzing $h (${limit[*]}, -timeout=$timeout_s, -rss_limit_mb=$rss_mb)"
  # The crafted regression inputs seed the run too (read-only: new inputs go to $corpus).
  if ASAN_OPTIONS=detect_leaks=1 "$build/tests/fuzz/fuzz_$h" "${limit[@]}" -max_len=65536 \
       -timeout="$timeout_s" -rss_limit_mb="$rss_mb" -malloc_limit_mb="$rss_mb" \
       -print_final_stats=1 -artifact_prefix="$findings/" "$corpus" "$DCNN_ROOT/tests/fuzz/regressions/$h" \
       >"$build/fuzz-$h.log" 2>&1; then
    runs_done=$(grep -m1 "stat::number_of_executed_units" "$build/fuzz-$h.log" | awk '{print $2}')
    peak=$(grep -m1 "stat::peak_rss_mb" "$build/fuzz-$h.log" | awk '{print $2}')
    echo "fuzz $h: ${runs_done:-?} executions in ${limit[*]#-}, no finding (peak RSS ${peak:-?} MB of $rss_mb," \
         "timeout ${timeout_s} s; corpus: $(ls "$corpus" | wc -l) inputs)"
  else
    echo "fuzz $h: FINDING (inputs in $findings):"
    grep -E "ERROR|SUMMARY|timeout|out-of-memory|malloc" "$build/fuzz-$h.log" | head -n 5
    status=1
  fi
done
exit $status
