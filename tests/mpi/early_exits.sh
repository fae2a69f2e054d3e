#!/bin/sh
# The examples under mpirun leave before any work as one process does: --help,
# --version and --print-settings with status 0, a bad command line with
# status 2, every rank finalising MPI (a rank that exits without it makes
# mpirun report the job as failed: status 1, "exited without calling
# finalize"). Needs no data.
#   early_exits.sh MPIRUN WORK PROGRAM...
set -u
mpirun="$1"; work="$2"; shift 2
. "$(dirname "$0")/env.sh"
rm -rf "$work"; mkdir -p "$work"
# expect STATUS PROGRAM ARGS...: 2 ranks end with STATUS, no rank unfinalised
expect() {
  want="$1"; shift
  timeout 120 "$mpirun" --oversubscribe --allow-run-as-root -np 2 "$@" >"$work/out.log" 2>&1
  status=$?
  if [ "$status" -ne "$want" ] || grep -q "without calling.*finalize" "$work/out.log"; then
    cat "$work/out.log"
    echo "FAIL: mpirun -np 2 $*: status $status, expected $want with every rank finalised"
    exit 1
  fi
}
for program in "$@"; do
  expect 0 "$program" --help
  expect 0 "$program" --version
  expect 2 "$program" --no-such-option
done
for program in "$@"; do
  case "$program" in
    *digitcnn-paper)
      expect 0 "$program" --print-settings --recipe best
      expect 2 "$program" --val-fraction 0 --patience 2 ;;
    *digitcnn-hparam-search) expect 2 "$program" --trials 9 ;;
  esac
done
echo "ok: --help, --version, --print-settings and bad command lines end a 2-rank job as one process (status 0 or 2)"
