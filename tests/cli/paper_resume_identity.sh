#!/bin/sh
# digitcnn-paper --resume continues only the run recorded beside the
# checkpoint (OUT/checkpoints/identity.txt, written when a run starts): another
# seed, recipe or subset is refused with status 2 before any data is read, the
# same options go on (here to the data, which does not exist: status 1), and a
# checkpoint without an identity file is taken with a note. No MNIST-M needed.
set -u
paper="$1"; work="$2"
fail() { echo "FAIL: $*"; exit 1; }
rm -rf "$work" && mkdir -p "$work"
out="$work/run one"  # a space in the path, too
"$paper" --data "$work/absent" --out "$out" --seed 1 --quick >/dev/null 2>"$work/err1"
[ $? -eq 1 ] || fail "the first run (no data) did not fail with status 1"
[ -f "$out/checkpoints/identity.txt" ] || fail "no identity.txt at the start of the run"
grep -q '^seed=1$' "$out/checkpoints/identity.txt" || fail "identity.txt lacks the seed"
: > "$out/checkpoints/last.dcnn"  # never read: the identity is checked first
for other in "--seed 2 --quick" "--seed 1" "--seed 1 --quick --recipe best" "--seed 1 --quick --batch 64"; do
  # shellcheck disable=SC2086
  "$paper" --data "$work/absent" --out "$out" --resume "$out/checkpoints/last.dcnn" $other >/dev/null 2>"$work/err2"
  status=$?
  [ $status -eq 2 ] || fail "--resume with '$other': status $status, expected 2"
  grep -q "that run was trained with" "$work/err2" || fail "no message for '$other': $(cat "$work/err2")"
done
grep -q "'batch=32', this command gives 'batch=64'" "$work/err2" || fail "the message does not name the option: $(cat "$work/err2")"
"$paper" --data "$work/absent" --out "$out" --resume "$out/checkpoints/last.dcnn" --seed 1 --quick >/dev/null 2>"$work/err3"
status=$?
[ $status -eq 1 ] || fail "the same options: status $status, expected 1 (no data)"
grep -q "that run was trained with" "$work/err3" && fail "the same options were refused"
rm "$out/checkpoints/identity.txt"
"$paper" --data "$work/absent" --out "$work/elsewhere" --resume "$out/checkpoints/last.dcnn" --seed 7 >/dev/null 2>"$work/err4"
[ $? -eq 1 ] || fail "a checkpoint without identity.txt was not taken"
grep -q "its options are not checked" "$work/err4" || fail "no note for a checkpoint without identity.txt"
echo "resume identity: other options refused (status 2), the same ones go on"
