#!/bin/sh
# The example programs guard their outputs (an audit of the CLI under hostile
# conditions): one run at a time in an output directory (OUT/.lock), a fresh
# digitcnn-paper run sets an earlier run's checkpoints aside instead of
# labelling them with its own identity, the identity names the data directory
# resolved, digitcnn-proxy never writes into its --data directory,
# digitcnn-export never over its input, and table1.json stays JSON when an
# AUC is undefined (MNIST-M needed for that part only; skipped without it).
#   output_guards.sh EXAMPLES_DIR WORK_DIR [MNIST_M_DIR]
set -u
bin="$1"; work="$2"; mnistm="${3:-}"
fail() { echo "FAIL: $*"; exit 1; }
rm -rf "$work" && mkdir -p "$work/data" "$work/other/data"

# An earlier run's checkpoints stay where they are, with their identity, when a fresh run fails on its
# data: they are set aside (tests/cli/paper_checkpoints.sh) only once the data has passed its checks.
out="$work/paper"
mkdir -p "$out/checkpoints"
printf 'seed=1\n' > "$out/checkpoints/identity.txt"
echo earlier > "$out/checkpoints/last.dcnn"
"$bin/digitcnn-paper" --data "$work/absent" --out "$out" --seed 2 --quick >/dev/null 2>"$work/err1"
[ $? -eq 1 ] || fail "a fresh run without data did not fail with status 1: $(cat "$work/err1")"
grep -q earlier "$out/checkpoints/last.dcnn" || fail "the earlier run's last.dcnn was moved by a run that failed"
grep -q '^seed=1$' "$out/checkpoints/identity.txt" || fail "a run that failed replaced the earlier identity"
[ -e "$out/checkpoints/previous" ] && fail "a run that failed on its data set checkpoints aside"

# A run refused before training prints nothing on stdout (the banner came first), and an ensemble whose
# member directory holds a member trained otherwise is refused with status 2 before any data is read
# (it failed with status 1 once the data was loaded; --data does not even exist here).
"$bin/digitcnn-paper" --data "$work/absent" --out "$work/resumed" --resume "$work/absent.dcnn" >"$work/out2" 2>"$work/err2"
[ $? -eq 2 ] || fail "--resume of a missing file: not status 2: $(cat "$work/err2")"
[ -s "$work/out2" ] && fail "a refused run printed on stdout: $(cat "$work/out2")"
mkdir -p "$work/ensemble/members/best"
printf 'recipe=best\nsettings=other\n' > "$work/ensemble/members/best/member.txt"
"$bin/digitcnn-paper" --recipe best-and-rgb-cosine --quick --data "$work/absent" --out "$work/ensemble" \
  >"$work/out3" 2>"$work/err3"
status=$?
[ $status -eq 2 ] && grep -q "holds a member trained otherwise" "$work/err3" ||
  fail "an ensemble over a member trained otherwise: status $status, $(cat "$work/err3")"
[ -s "$work/out3" ] && fail "a refused ensemble printed on stdout: $(cat "$work/out3")"

# A second run into a locked directory is refused with status 2 and touches nothing.
# The script holds the lock itself (on its own open file, which the run does not inherit), so
# that the run cannot start before the lock is taken.
exec 9>"$out/.lock"
flock -n 9 || fail "could not lock $out/.lock for the test"
"$bin/digitcnn-paper" --data "$work/absent" --out "$out" --seed 3 --quick >"$work/out2" 2>"$work/err2" 9>&-
status=$?
exec 9>&-
[ $status -eq 2 ] || fail "a run into a locked directory: status $status, expected 2 ($(cat "$work/err2"))"
grep -q "another run is writing into this output directory" "$work/err2" || fail "no message: $(cat "$work/err2")"
[ -s "$work/out2" ] && fail "a refused run printed on stdout: $(cat "$work/out2")"
grep -q '^seed=1$' "$out/checkpoints/identity.txt" || fail "the refused run changed the identity"

# The identity names the data directory resolved: the same data by another path resumes, other data
# under the same relative name does not.
(cd "$work" && "$bin/digitcnn-paper" --data data --out "$work/rel" --seed 1 --quick >/dev/null 2>&1)
grep -q "^data=$work/data\$" "$work/rel/checkpoints/identity.txt" || fail "identity.txt does not resolve --data"
: > "$work/rel/checkpoints/last.dcnn"
"$bin/digitcnn-paper" --data "$work/data/" --out "$work/rel" --resume "$work/rel/checkpoints/last.dcnn" --seed 1 \
  --quick >/dev/null 2>"$work/err3"
[ $? -eq 1 ] || fail "the same data by its absolute path was refused: $(cat "$work/err3")"
(cd "$work/other" && "$bin/digitcnn-paper" --data data --out "$work/rel" --resume "$work/rel/checkpoints/last.dcnn" \
  --seed 1 --quick >/dev/null 2>"$work/err4")
[ $? -eq 2 ] || fail "other data under the same relative name was taken: $(cat "$work/err4")"

# digitcnn-proxy into its own --data directory: refused before anything is read or written.
"$bin/digitcnn-proxy" --data "$work/data" --out "$work/data/." >/dev/null 2>"$work/err5"
[ $? -eq 2 ] || fail "digitcnn-proxy --out DATA: not refused with status 2 ($(cat "$work/err5"))"
[ -z "$(ls -A "$work/data")" ] || fail "digitcnn-proxy wrote into its --data directory"

# ... and into a locked --out: refused with status 2 before any image is read (--data does not exist; it
# loaded the whole data set first)
mkdir -p "$work/proxyout"
exec 9>"$work/proxyout/.lock"
flock -n 9 || fail "could not lock $work/proxyout/.lock for the test"
"$bin/digitcnn-proxy" --data "$work/absent" --out "$work/proxyout" >/dev/null 2>"$work/err8" 9>&-
status=$?
exec 9>&-
[ $status -eq 2 ] && grep -q "another run is writing into this output directory" "$work/err8" ||
  fail "digitcnn-proxy into a locked --out: status $status, $(cat "$work/err8")"

# digitcnn-export over its own input: refused, the input kept.
echo model > "$work/m.dcnn"
ln -s m.dcnn "$work/link.dcnn"
"$bin/digitcnn-export" "$work/m.dcnn" "$work/link.dcnn" >/dev/null 2>"$work/err6"
[ $? -eq 2 ] || fail "digitcnn-export with the input as output: not refused ($(cat "$work/err6"))"
grep -q '^model$' "$work/m.dcnn" || fail "digitcnn-export changed its input"

# table1.json with an undefined AUC (a test set of one image): null, not nan.
if [ -n "$mnistm" ] && [ -d "$mnistm/mnist_m_test" ] && command -v python3 >/dev/null; then
  "$bin/digitcnn-table1" --data "$mnistm" --models paper --epochs 1 --train-images 200 --test-images 1 --threads 1 \
    --out "$work/t1" >/dev/null 2>"$work/err7" || fail "digitcnn-table1 failed: $(tail -3 "$work/err7")"
  python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$work/t1/table1.json" ||
    fail "table1.json is not JSON: $(grep auc "$work/t1/table1.json")"
  # Started with its standard output closed, a program's lock file took descriptor 1 and received the output,
  # and the run reported success: now the output is lost on /dev/null and reported (status 1).
  "$bin/digitcnn-proxy" --data "$mnistm" --split test --limit 5 --out "$work/closed" --threads 1 >&- 2>"$work/err9"
  status=$?
  [ $status -eq 1 ] && grep -q "cannot write the standard output" "$work/err9" ||
    fail "digitcnn-proxy with stdout closed: status $status, $(cat "$work/err9")"
  [ -s "$work/closed/.lock" ] && fail "the output went into the lock file: $(head -c 200 "$work/closed/.lock")"
fi
echo "output guards: locked directories, earlier checkpoints, resolved data, proxy and export inputs kept"
