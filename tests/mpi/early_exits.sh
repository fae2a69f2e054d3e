#!/bin/sh
# The examples under mpirun leave before any work as one process does: --help,
# --version and --print-settings with status 0, every rank finalising MPI (a
# rank that exits 0 without it makes mpirun report the job as failed: status
# 1, "exited without calling finalize"); a bad command line with status 2 and
# no hang (not finalised: the launcher ends the job, also when the ranks'
# arguments differ and only some refuse). Needs no data.
#   early_exits.sh MPIRUN WORK DIGITCNN_PAPER DIGITCNN_TABLE1 [PROGRAM...]
set -u
mpirun="$1"; work="$2"; shift 2
. "$(dirname "$0")/env.sh"
rm -rf "$work"; mkdir -p "$work"
# expect STATUS PROGRAM ARGS...: 2 ranks end with STATUS within the timeout, no rank exiting 0 unfinalised
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
# one rank refusing its own arguments while the other goes on into the job's first all-reduce
# (digitcnn-table1's, on making --out): the job ends (it hung once the refusing rank finalised MPI)
timeout 120 "$mpirun" --oversubscribe --allow-run-as-root -np 1 "$2" --data "$work/absent" --out "$work/out" : \
  -np 1 "$2" --no-such-option >"$work/out.log" 2>&1
status=$?
[ "$status" -ne 124 ] && [ "$status" -ne 0 ] || { cat "$work/out.log"; echo "FAIL: one rank's refusal: status $status"; exit 1; }
for program in "$@"; do
  case "$program" in
    *digitcnn-paper)
      expect 0 "$program" --print-settings --recipe best
      expect 2 "$program" --val-fraction 0 --patience 2 ;;
    *digitcnn-hparam-search) expect 2 "$program" --trials 9 ;;
  esac
done
echo "ok: --help, --version, --print-settings and bad command lines end a 2-rank job as one process (status 0 or 2)"
