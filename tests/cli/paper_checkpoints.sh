#!/bin/sh
# digitcnn-paper's checkpoint directory holds one run, described by its identity.txt (a review):
# a fresh run sets an earlier run's checkpoints aside in checkpoints/previous/ once its data has passed
# its checks; --resume of previous/last.dcnn brings that run back and puts the other one in previous/
# (the two trade places: neither is lost, and identity.txt describes the checkpoints beside it); a run
# that names another directory's checkpoint does not leave this directory's other run under its identity.
#   paper_checkpoints.sh ODD_MNISTM DIGITCNN_PAPER WORK
set -u
make="$1"; paper="$2"; work="$3"
fail() { echo "FAIL: $*"; exit 1; }
rm -rf "$work"; mkdir -p "$work/data/mnist_m_train" "$work/data/mnist_m_test"
"$make" "$work/data" 32 32 3 3 || fail "cannot write the data"
out="$work/out"; cp="$out/checkpoints"
run() { # seed, then more options
  seed="$1"; shift
  "$paper" --data "$work/data" --out "$out" --seed "$seed" --epochs 1 --threads 1 --progress none "$@" \
    >"$work/log" 2>&1 || { cat "$work/log"; fail "seed $seed $*"; }
}
run 1
cp "$cp/last.dcnn" "$work/seed1.dcnn"
grep -q '^seed=1$' "$cp/identity.txt" || fail "no identity for seed 1"
run 2
grep -q "earlier run's checkpoints" "$work/log" || fail "no note about seed 1's checkpoints set aside"
cmp -s "$cp/previous/last.dcnn" "$work/seed1.dcnn" || fail "seed 1's last.dcnn is not in previous/"
grep -q '^seed=1$' "$cp/previous/identity.txt" || fail "seed 1's identity did not go with it"
grep -q '^seed=2$' "$cp/identity.txt" || fail "no identity for seed 2"
cp "$cp/last.dcnn" "$work/seed2.dcnn"
# Seed 1 continued from previous/: the runs trade places.
run 1 --resume "$cp/previous/last.dcnn"
grep -q '^seed=1$' "$cp/identity.txt" || fail "seed 1 resumed, but identity.txt is not seed 1's"
cmp -s "$cp/previous/last.dcnn" "$work/seed2.dcnn" || fail "seed 2's last.dcnn is not in previous/ now"
grep -q '^seed=2$' "$cp/previous/identity.txt" || fail "seed 2's identity did not go with it"
# So the checkpoint beside seed 1's identity is seed 1's: --resume of it as seed 2 is refused.
"$paper" --data "$work/data" --out "$out" --seed 2 --epochs 1 --threads 1 --progress none \
  --resume "$cp/last.dcnn" >"$work/log" 2>&1
status=$?
[ $status -eq 2 ] || { cat "$work/log"; fail "seed 2 resumed seed 1's checkpoint: status $status"; }
# Through symlinks the same: a link to this directory's checkpoint moves nothing, a link to previous/'s
# makes the runs trade places (a review: links were taken for other directories, and runs were lost).
ln -s "$cp/last.dcnn" "$work/here.dcnn"
# ... and the identity checked is the one beside the link's target: seed 2 cannot continue seed 1 through it
"$paper" --data "$work/data" --out "$out" --seed 2 --epochs 1 --threads 1 --progress none \
  --resume "$work/here.dcnn" >"$work/log" 2>&1
status=$?
[ $status -eq 2 ] || { cat "$work/log"; fail "seed 2 resumed seed 1's checkpoint through a link: status $status"; }
grep -q '^seed=1$' "$cp/identity.txt" || fail "a refused resume through a link changed identity.txt"
run 1 --resume "$work/here.dcnn"
grep -q '^seed=1$' "$cp/identity.txt" || fail "a link to this run's checkpoint changed identity.txt"
grep -q '^seed=2$' "$cp/previous/identity.txt" || fail "a link to this run's checkpoint set its run aside"
ln -s "$cp/previous/last.dcnn" "$work/there.dcnn"
run 2 --resume "$work/there.dcnn"
grep -q '^seed=2$' "$cp/identity.txt" || fail "a link to previous/'s checkpoint did not bring seed 2 back"
grep -q '^seed=1$' "$cp/previous/identity.txt" || fail "seed 1 was not kept in previous/"
cmp -s "$cp/last.dcnn" "$work/seed2.dcnn" || fail "seed 2's last.dcnn did not come back"
# A checkpoint from another directory: this one's run goes aside, not under the resumed run's identity.
mkdir -p "$work/elsewhere"
cp "$cp/previous/last.dcnn" "$cp/previous/identity.txt" "$work/elsewhere/"
run 1 --resume "$work/elsewhere/last.dcnn"
grep -q '^seed=1$' "$cp/identity.txt" || fail "the run resumed from elsewhere is not described by identity.txt"
grep -q '^seed=2$' "$cp/previous/identity.txt" || fail "seed 2's run was not set aside"
cmp -s "$cp/previous/last.dcnn" "$work/seed2.dcnn" || fail "seed 2's last.dcnn was not set aside"
# The report counts the epochs trained: stopped early after 2 of 10 (a rate too small to change the
# validation accuracy), "Training: 2 epochs" as history.csv has them (it said the configured 10).
out="$work/early"
run 3 --epochs 10 --patience 1 --lr 1e-9
grep -q "^Training: 2 epochs in" "$work/log" || fail "the early-stopped run's report: $(grep Training "$work/log")"
[ "$(tail -n +2 "$out/history.csv" | wc -l)" -eq 2 ] || fail "history.csv does not hold 2 epochs"
echo "paper checkpoints: set aside after the data checks, runs trade places on --resume, one identity per directory"
