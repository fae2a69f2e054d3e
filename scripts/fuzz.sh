#!/usr/bin/env bash
# Fuzzes every parser with libFuzzer: the model loader (with checkpoint state),
# the IDX loader and the image-list/PNG loader. Builds build-fuzz with clang,
# ASan and UBSan, writes the seed corpora, then runs each harness.
#   bash scripts/fuzz.sh [--time SECONDS | --runs N] [HARNESS...]
# Default: 60 seconds per harness. Inputs that crash are saved to
# build-fuzz/findings/<harness>/; copy them to tests/fuzz/regressions/<harness>/
# so that every build replays them (ctest -R fuzz_replay).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

limit=(-max_total_time=60)
harnesses=()
while [ $# -gt 0 ]; do
  case "$1" in
    --time) limit=(-max_total_time="$2"); shift 2 ;;
    --runs) limit=(-runs="$2"); shift 2 ;;
    model_load|idx|image_list) harnesses+=("$1"); shift ;;
    *) echo "usage: $0 [--time SECONDS | --runs N] [model_load|idx|image_list ...]" >&2; exit 2 ;;
  esac
done
[ ${#harnesses[@]} -gt 0 ] || harnesses=(model_load idx image_list)

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
  dcnn_log "fuzzing $h (${limit[*]})"
  # Memory: a crafted input may make a loader ask for more than it can have; the library must
  # refuse before allocating, so libFuzzer's 2 GB limit on any single allocation stays on.
  if ASAN_OPTIONS=detect_leaks=1 "$build/tests/fuzz/fuzz_$h" "${limit[@]}" -max_len=65536 -timeout=20 \
       -print_final_stats=1 -artifact_prefix="$findings/" "$corpus" "$DCNN_ROOT/tests/fuzz/regressions/$h" \
       >"$build/fuzz-$h.log" 2>&1; then
    runs=$(grep -m1 "stat::number_of_executed_units" "$build/fuzz-$h.log" | awk '{print $2}')
    echo "fuzz $h: ${runs:-?} executions, no finding (corpus: $(ls "$corpus" | wc -l) inputs)"
  else
    echo "fuzz $h: FINDING (inputs in $findings):"
    grep -E "ERROR|SUMMARY" "$build/fuzz-$h.log" | head -n 5
    status=1
  fi
done
exit $status
