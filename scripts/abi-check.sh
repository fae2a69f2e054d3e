#!/usr/bin/env bash
# The ABI check (docs/api-conventions.md, "Versions and ABI stability").
#
#   scripts/abi-check.sh                     build the shared library with debug
#                                            information (in build-abi/), then compare
#                                            its exported symbols with abi/digitcnn.symbols
#                                            and its ABI with abi/digitcnn.abi (abidiff);
#                                            exits 1 on any difference
#   scripts/abi-check.sh --update-baseline   rewrite both files from the built library
#                                            (a deliberate change: see the conventions)
#   scripts/abi-check.sh --symbols LIB       only compare LIB's exported symbols with the
#                                            list (the CTest test test_abi_symbols)
# Options: --build DIR (default build-abi). Needs abidw/abidiff (Debian: abigail-tools).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
symbols_file="$root/abi/digitcnn.symbols"
baseline="$root/abi/digitcnn.abi"
build="$root/build-abi"
mode=check
library=""

while [ $# -gt 0 ]; do
  case "$1" in
    --update-baseline) mode=update ;;
    --symbols) mode=symbols; library="${2:?--symbols needs the library}"; shift ;;
    --build) build="${2:?--build needs a directory}"; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "abi-check: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done

# Defined dynamic symbols with their version node ("dcnn_x@@DIGITCNN_0.2"),
# sorted, plus the node itself: a symbol added, removed or moved to another
# node changes the list.
exported_symbols() {
  nm -D --defined-only "$1" | awk 'NF >= 3 {print $3}' | LC_ALL=C sort
}

compare_symbols() {
  local lib="$1" current
  current="$(mktemp)"
  exported_symbols "$lib" >"$current"
  if ! diff -u --label "abi/digitcnn.symbols (committed)" --label "$lib (built)" "$symbols_file" "$current"; then
    rm -f "$current"
    echo "abi-check: the exported symbols differ from abi/digitcnn.symbols ('-' lines are missing" \
         "from the library, '+' lines are not listed). If the change is deliberate, follow" \
         "docs/api-conventions.md and run scripts/abi-check.sh --update-baseline." >&2
    return 1
  fi
  rm -f "$current"
  echo "abi-check: $(wc -l <"$symbols_file") exported symbols, as listed in abi/digitcnn.symbols"
}

if [ "$mode" = symbols ]; then
  compare_symbols "$library"
  exit
fi

command -v abidw >/dev/null && command -v abidiff >/dev/null ||
  { echo "abi-check: abidw and abidiff are needed (Debian: apt-get install abigail-tools)" >&2; exit 2; }

# Type layouts do not depend on optimisation: a Debug build (-g, quick to
# compile) of the library alone gives the DWARF abidw reads.
mkdir -p "$build"
# The checkout's path is mapped away so that dumps do not depend on it. A
# path with whitespace cannot go through CMAKE_C_FLAGS (split into words): it
# is left in, which the dump's short locations (file names only) make harmless.
prefix_map=()
case "$root" in
  *[[:space:]]*) ;;
  *) prefix_map=(-DCMAKE_C_FLAGS="-fdebug-prefix-map=$root=.") ;;
esac
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DDCNN_BUILD_TESTS=OFF -DDCNN_BUILD_EXAMPLES=OFF \
  ${prefix_map[@]+"${prefix_map[@]}"} \
  >"$build/abi-configure.log" 2>&1 || { cat "$build/abi-configure.log" >&2; exit 1; }
cmake --build "$build" -j2 --target digitcnn >"$build/abi-build.log" 2>&1 || { cat "$build/abi-build.log" >&2; exit 1; }
lib="$build/lib/libdigitcnn.so"

# Only types reachable from the public headers are part of the ABI; locations
# name files, not paths, so that dumps from different checkouts compare cleanly.
dump() {
  abidw --no-corpus-path --short-locs --headers-dir "$root/include/digitcnn" --drop-private-types "$lib"
}

if [ "$mode" = update ]; then
  mkdir -p "$root/abi"
  exported_symbols "$lib" >"$symbols_file"
  dump >"$baseline"
  echo "abi-check: wrote abi/digitcnn.symbols ($(wc -l <"$symbols_file") symbols) and abi/digitcnn.abi from $lib"
  exit 0
fi

status=0
compare_symbols "$lib" || status=1
current="$build/digitcnn.abi"
dump >"$current"
# abidiff's exit code is a bit set: 1 error, 2 usage, 4 ABI change, 8
# incompatible change. Any of them fails the check.
if abidiff --no-added-syms "$baseline" "$current" >"$build/abidiff.txt"; then
  echo "abi-check: abidiff finds no ABI change against abi/digitcnn.abi"
else
  code=$?
  cat "$build/abidiff.txt"
  echo "abi-check: abidiff exit code $code against abi/digitcnn.abi (4: ABI change, 8: incompatible" \
       "change). If the change is deliberate, follow docs/api-conventions.md and run" \
       "scripts/abi-check.sh --update-baseline." >&2
  status=1
fi
exit "$status"
