#!/bin/sh
# scripts/table1-spread.sh: mean and sample standard deviation over seeds from
# table1.csv files (two made-up runs whose figures are known), models missing
# from a run, and a run that is not finished (status 1).
set -u
spread="$1"; work="$2"
fail() { echo "FAIL: $*"; exit 1; }
rm -rf "$work" && mkdir -p "$work/s1" "$work/seed 2" "$work/empty"
head='model,accuracy,f1,auc,precision,recall,specificity,g_measure,parameters,train_seconds,infer_per_second'
printf '%s\nPaper CNN,0.90,0.8,0.99,0.9,0.9,0.98,0.9,1,2,3\nLeNet-5,0.80,0.8,0.9,0.8,0.8,0.97,0.8,1,2,3\n' "$head" >"$work/s1/table1.csv"
printf '%s\nPaper CNN,0.92,0.8,0.99,0.9,0.9,0.98,0.9,1,2,3\n' "$head" >"$work/seed 2/table1.csv"
out=$(bash "$spread" "$work/s1" "$work/seed 2") || fail "status $?" # a space in a path, too
echo "$out"
# accuracy 90 and 92: mean 91, sample sd sqrt(2) = 1.41
echo "$out" | grep -q '^| Paper CNN | 2 | 91.00 ± 1.41 | 80.00 ± 0.00 |' || fail "Paper CNN row"
echo "$out" | grep -q '^| LeNet-5 | 1 | 80.00 ± 0.00 |' || fail "LeNet-5 row (one run)"
# an undefined AUC (an empty field) is averaged over the runs that have one
mkdir -p "$work/s3" && printf '%s\nPaper CNN,0.94,0.8,,0.9,0.9,0.98,0.9,1,2,3\nLeNet-5,0.80,0.8,,0.8,0.8,0.97,0.8,1,2,3\n' "$head" \
  >"$work/s3/table1.csv"
out=$(bash "$spread" "$work/s1" "$work/s3") || fail "status $? with an empty field"
echo "$out" | grep -q '^| Paper CNN | 2 | 92.00 ± 2.83 | 80.00 ± 0.00 | 99.00 ± 0.00 |' || fail "an empty AUC counted as 0"
out=$(bash "$spread" "$work/s3") || fail "status $? with an empty field alone"
echo "$out" | grep -q '^| LeNet-5 | 1 | 80.00 ± 0.00 | 80.00 ± 0.00 | n/a |' || fail "an AUC no run defines is not n/a"
bash "$spread" "$work/s1" "$work/empty" >/dev/null 2>"$work/err" && fail "an unfinished run was accepted"
grep -q "table1.csv not found" "$work/err" || fail "no message for the unfinished run"
echo "spread over seeds: as computed by hand"
