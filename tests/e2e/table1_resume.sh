#!/bin/sh
# digitcnn-table1 is resumable (issue #18): a small quick run (paper CNN and
# LeNet-5 on 1,200 images, 2 epochs, a checkpoint every 3 steps) once without
# interruption, then in a fresh directory killed with SIGKILL at several
# points and rerun until it finishes: the table's deterministic columns
# (model, the seven metrics, parameters: training time and inference speed
# are wall-clock, so table1.csv's last two columns are not compared) and the
# model files must be byte-identical. Also: SIGTERM and SIGHUP (on fresh runs) save and exit with
# status 3; a rerun with other options (another --data too) is refused
# (status 2) naming the option; a rerun of a finished run trains nothing. Skips (exit 77) without MNIST-M.
set -u
table1="$1"; data="$2"; work="$3"
if [ ! -f "$data/mnist_m_test_labels.txt" ]; then
  echo "MNIST-M not found in $data (run scripts/get-data.sh): skipped"
  exit 77
fi
rm -rf "$work"
mkdir -p "$work"
run() { # run DIR [extra options]: the same command every time (exec'd: a background
  dir="$1"; shift  # ( run ... ) & is then the program itself, which the signals must reach)
  exec "$table1" --models paper,lenet5 --train-images 1200 --test-images 200 --epochs 2 --threads 2 --seed 5 \
    --checkpoint-steps 3 --progress lines --data "$data" --out "$dir" "$@"
}
fail() { echo "FAIL: $*"; exit 1; }

(run "$work/whole") >"$work/whole.log" 2>&1 || { cat "$work/whole.log"; fail "the uninterrupted run failed"; }

# start [DIR]: runs DIR's command (default: the killed directory's) in the
# background ($pid), its output in DIR.log, and returns once it has written a
# checkpoint (so that every kill lands after one: each start then makes
# progress, data loading aside).
start() {
  dir="${1:-$work/killed}"
  touch "$work/marker"
  sleep 0.05
  (run "$dir") >>"$dir.log" 2>&1 &
  pid=$!
  i=0
  while kill -0 "$pid" 2>/dev/null && [ -z "$(find "$dir" -name '*.dcnn' -newer "$work/marker" 2>/dev/null)" ]; do
    sleep 0.1
    i=$((i + 1))
    [ "$i" -lt 900 ] || fail "no checkpoint within 90 s"
  done
}

# Killed with SIGKILL these many seconds after a start's first checkpoint:
# inside epochs (a checkpoint every 3 steps), in both epochs and models.
kills=0
for delay in 0.2 1.5 2.5 0.7; do
  start
  sleep "$delay"
  if kill -KILL "$pid" 2>/dev/null; then kills=$((kills + 1)); fi
  wait "$pid" 2>/dev/null
done
grep -q "^Resuming" "$work/killed.log" || fail "no rerun resumed from a checkpoint"

# stop_with SIGNAL NUMBER MESSAGE: a fresh run stopped by SIGNAL 0.3 s after its first checkpoint
# (far from its end: the killed directory's run, nearly done, could finish first and make the step
# test nothing) exits with status 3, having said MESSAGE (a checkpoint saved) or, if the signal
# landed after a model's last step, that it stopped between models.
stop_with() {
  start "$work/stop-$1"
  sleep 0.3
  kill -"$1" "$pid" 2>/dev/null
  wait "$pid"
  status=$?
  [ "$status" -eq 3 ] || { tail -n 5 "$work/stop-$1.log"; fail "SIG$1: status $status, expected 3"; }
  grep -q "$3\|stopped by signal $2 between models" "$work/stop-$1.log" \
    || { tail -n 5 "$work/stop-$1.log"; fail "SIG$1: status 3 without a checkpoint or between-models message"; }
}
stop_with TERM 15 "checkpoint saved"
stop_with HUP 1 "SIGHUP: stopped by signal 1 in" # a closed terminal stops it as SIGTERM does

runs=0
until (run "$work/killed") >>"$work/killed.log" 2>&1; do
  runs=$((runs + 1))
  [ "$runs" -lt 5 ] || { tail -n 20 "$work/killed.log"; fail "the resumed run does not finish"; }
done

for f in paper/model.dcnn lenet5/model.dcnn paper/best.dcnn lenet5/best.dcnn; do
  cmp "$work/whole/$f" "$work/killed/$f" || fail "$f differs from the uninterrupted run's"
done
cut -d, -f1-9 "$work/whole/table1.csv" >"$work/whole.table"
cut -d, -f1-9 "$work/killed/table1.csv" >"$work/killed.table"
cmp "$work/whole.table" "$work/killed.table" || fail "table1.csv differs from the uninterrupted run's"

# The histories agree but for the wall-clock seconds column; the chart has both models.
for m in paper lenet5; do
  cut -d, -f1,3- "$work/whole/$m/history.csv" >"$work/whole.history"
  cut -d, -f1,3- "$work/killed/$m/history.csv" | cmp - "$work/whole.history" || fail "$m/history.csv differs"
  [ "$(wc -l <"$work/whole.history")" -eq 3 ] || fail "$m/history.csv: expected a header and 2 epochs"
done
for m in "Paper CNN" "LeNet-5"; do
  grep -q ">$m</text>" "$work/killed/table1-val-accuracy.svg" || fail "the chart has no series $m"
done
[ "$(grep -c '<polyline' "$work/killed/table1-val-accuracy.svg")" -eq 2 ] || fail "the chart should have 2 lines"

# A changed recipe is refused like any other option.
(run "$work/killed" --lr 0.01) >"$work/recipe.log" 2>&1
[ $? -eq 2 ] && grep -q "learning_rate: 0.001 there, 0.01 now" "$work/recipe.log" ||
  { cat "$work/recipe.log"; fail "a changed learning rate was not refused"; }

# Finished: the same command again trains nothing and writes the same table.
(run "$work/killed") >"$work/again.log" 2>&1 || fail "the rerun of a finished run failed"
grep -q "^Epoch" "$work/again.log" && fail "the rerun of a finished run trained again"
cut -d, -f1-9 "$work/killed/table1.csv" | cmp - "$work/whole.table" || fail "the rerun's table differs"
# --models paper alone there: nothing trained, and the table keeps LeNet-5, finished with these options (it
# was rewritten with the selected model's row alone)
(run "$work/killed" --models paper) >"$work/one.log" 2>&1 || { cat "$work/one.log"; fail "--models paper on a finished run"; }
grep -q "^Epoch" "$work/one.log" && fail "--models paper trained again"
cut -d, -f1-9 "$work/killed/table1.csv" | cmp - "$work/whole.table" || fail "--models paper dropped LeNet-5 from the table"
[ "$(grep -c '<polyline' "$work/killed/table1-val-accuracy.svg")" -eq 2 ] || fail "--models paper dropped LeNet-5 from the chart"
grep -q "^LeNet-5: finished in .* listed in the table" "$work/one.log" || fail "--models paper did not say LeNet-5 is listed"
# ... but only those finished with the same options: another seed's table has the paper CNN alone
cp -R "$work/killed" "$work/reseeded"
rm -f "$work/reseeded/.lock"
(run "$work/reseeded" --models paper --restart --seed 6 --epochs 1) >"$work/reseeded.log" 2>&1 ||
  { cat "$work/reseeded.log"; fail "--restart --models paper --seed 6"; }
grep -q "LeNet-5" "$work/reseeded/table1.csv" && fail "a LeNet-5 of seed 5 was listed in seed 6's table"

# A result written before the process count was recorded (no processes= line) is one process's.
grep -q '^processes=1$' "$work/killed/paper/result.txt" || fail "result.txt does not record 1 process"
cp -R "$work/killed" "$work/older"
rm -f "$work/older/.lock"
for m in paper lenet5; do sed -i '/^processes=/d' "$work/older/$m/result.txt"; done
# ... and the chart plots every epoch of a long history (it stopped at 1,000): 2 points and 1,500
awk 'BEGIN { print "epoch,seconds,learning_rate,loss,accuracy,val_loss,val_accuracy"
             for (e = 1; e <= 1500; e++) printf "%d,1,0.001,1,0.5,1,%.4f\n", e, 0.5 + e / 4000 }' \
  >"$work/older/lenet5/history.csv"
(run "$work/older") >"$work/older.log" 2>&1 || { cat "$work/older.log"; fail "a result without processes= was refused"; }
grep -q "^Epoch" "$work/older.log" && fail "a result without processes= was trained again"
[ "$(grep -c '<circle' "$work/older/table1-val-accuracy.svg")" -eq 1502 ] || fail "the chart did not plot 1,500 epochs"

# Other options: refused with status 2, naming what differs; --restart is the way out.
(run "$work/killed" --seed 6) >"$work/changed.log" 2>&1
status=$?
[ "$status" -eq 2 ] || fail "changed options: status $status, expected 2"
grep -q "seed: 5 there, 6 now" "$work/changed.log" || { cat "$work/changed.log"; fail "changed options: no message naming the seed"; }

# Another data directory is another run (it was resumed before); the same one
# written otherwise (a trailing /.) is the same.
mkdir -p "$work/other-data"
ln -s "$(cd "$data" && pwd)"/* "$work/other-data/"
(run "$work/killed" --data "$work/other-data") >"$work/data.log" 2>&1
status=$?
[ "$status" -eq 2 ] && grep -q "data: .* there, .*other-data now (--data)" "$work/data.log" ||
  { cat "$work/data.log"; fail "another --data: status $status, expected 2 naming the data directory"; }
(run "$work/killed" --data "$data/.") >"$work/same-data.log" 2>&1 ||
  { cat "$work/same-data.log"; fail "the same data directory written otherwise was refused"; }

# A data directory that is not there is reported as missing (status 1), not as other options.
(run "$work/killed" --data "$work/no-such-data") >"$work/missing.log" 2>&1
status=$?
[ "$status" -eq 1 ] && grep -q "cannot open" "$work/missing.log" ||
  { cat "$work/missing.log"; fail "a missing data directory: status $status, expected 1 saying so"; }

# options.txt alone (a run stopped before its first checkpoint) holds nothing to continue: other options start
# afresh (they were refused as if there were a run to continue).
mkdir -p "$work/leftover/paper"
sed 's/^seed=.*/seed=4/' "$work/whole/paper/result.txt" | sed '/^accuracy=/,$d' >"$work/leftover/paper/options.txt"
grep -q '^seed=4$' "$work/leftover/paper/options.txt" || fail "the test's options.txt has no seed line"
(run "$work/leftover" --models paper --epochs 1) >"$work/leftover.log" 2>&1 ||
  { cat "$work/leftover.log"; fail "options.txt without a checkpoint refused other options"; }
[ -s "$work/leftover/paper/result.txt" ] || fail "options.txt without a checkpoint: nothing trained"
grep -q '^seed=5$' "$work/leftover/paper/result.txt" || fail "options.txt without a checkpoint: the new run's seed not recorded"
# with a checkpoint beside it, other options are still refused
mkdir -p "$work/leftover2/paper"
sed 's/^seed=.*/seed=4/' "$work/whole/paper/result.txt" | sed '/^accuracy=/,$d' >"$work/leftover2/paper/options.txt"
cp "$work/whole/paper/best.dcnn" "$work/leftover2/paper/last.dcnn"
(run "$work/leftover2" --models paper --epochs 1) >"$work/leftover2.log" 2>&1
[ $? -eq 2 ] && grep -q "leftover2/paper/options.txt was made with other options" "$work/leftover2.log" ||
  { cat "$work/leftover2.log"; fail "options.txt and last.dcnn of other options were not refused"; }

# A checkpoint whose options.txt is gone cannot be checked: refused, not continued under any options.
mkdir -p "$work/orphan/paper"
cp "$work/whole/paper/best.dcnn" "$work/orphan/paper/last.dcnn"
(run "$work/orphan") >"$work/orphan.log" 2>&1
status=$?
[ "$status" -eq 2 ] && grep -q "has no options.txt beside it" "$work/orphan.log" ||
  { cat "$work/orphan.log"; fail "a checkpoint without options.txt: status $status, expected 2"; }

echo "killed $kills times with SIGKILL, once with SIGTERM, then finished: model files and the table's deterministic" \
  "columns identical to the uninterrupted run's; finished models skipped; other options refused"
