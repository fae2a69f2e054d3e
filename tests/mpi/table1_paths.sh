#!/bin/sh
# digitcnn-table1 under mpirun decides to resume or refuse by rank 0's view of
# the recorded options: a rank that sees the same MNIST-M under another path
# (here a hard-linked copy, as on another mount point) joins the job instead of
# refusing alone and stranding rank 0. The process count is among the recorded
# options (results depend on it). Skips (77) without MNIST-M.
#   table1_paths.sh MPIRUN DIGITCNN_TABLE1 DATA WORK
set -u
mpirun="$1"; table1="$2"; data="$3"; work="$4"
if [ ! -f "$data/mnist_m_test_labels.txt" ]; then
  echo "MNIST-M not found in $data (run scripts/get-data.sh): skipped"
  exit 77
fi
. "$(dirname "$0")/env.sh"
rm -rf "$work"; mkdir -p "$work"
cp -al "$data" "$work/copy" 2>/dev/null || cp -a "$data" "$work/copy" || { echo "FAIL: cannot copy $data"; exit 1; }
common="--quick --models paper --epochs 1 --train-images 400 --test-images 200 --threads 1 --out $work/run"
two_ranks() { # two_ranks DATA_OF_RANK_0 DATA_OF_RANK_1
  timeout 300 "$mpirun" --oversubscribe --allow-run-as-root -np 1 "$table1" $common --data "$1" : \
    -np 1 "$table1" $common --data "$2"
}
two_ranks "$data" "$data" >"$work/first.log" 2>&1 || { cat "$work/first.log"; exit 1; }
grep -q "^processes=2\$" "$work/run/paper/options.txt" \
  || { echo "FAIL: options.txt does not record 2 processes"; cat "$work/run/paper/options.txt"; exit 1; }
grep -q "^data=$(cd "$data" && pwd -P)\$" "$work/run/paper/options.txt" \
  || { echo "FAIL: options.txt does not record the data directory"; cat "$work/run/paper/options.txt"; exit 1; }
# The copy on rank 0 is another data directory: refused with status 2, as before.
two_ranks "$work/copy" "$work/copy" >"$work/alone.log" 2>&1
status=$?
[ "$status" -eq 2 ] || { echo "FAIL: rank 0 with the other path exited $status, not 2"; cat "$work/alone.log"; exit 1; }
grep -q "data: .* there, .* now (--data)" "$work/alone.log" || { echo "FAIL: not refused for the data"; cat "$work/alone.log"; exit 1; }
# One process: not the 2 processes' results.
"$table1" $common --data "$data" >"$work/one.log" 2>&1
status=$?
[ "$status" -eq 2 ] || { echo "FAIL: one process over 2 processes' results exited $status, not 2"; cat "$work/one.log"; exit 1; }
grep -q "processes: 2 there, 1 now" "$work/one.log" || { echo "FAIL: not refused for the process count"; cat "$work/one.log"; exit 1; }
# Rank 0 with the recorded path, rank 1 with the copy: one job, the finished row reported.
two_ranks "$data" "$work/copy" >"$work/two.log" 2>&1
status=$?
[ "$status" -eq 0 ] || { echo "FAIL: 2 ranks, the second with the copied data, exited $status"; cat "$work/two.log"; exit 1; }
grep -q "finished earlier" "$work/two.log" || { echo "FAIL: the finished row was not reported"; cat "$work/two.log"; exit 1; }
rm -rf "$work/copy"
echo "ok: ranks that see the data under different paths follow rank 0's record"
