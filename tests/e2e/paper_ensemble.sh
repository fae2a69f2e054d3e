#!/bin/sh
# digitcnn-paper --recipe best-and-rgb-cosine on real MNIST-M (quick subsets): each
# member is the model `--recipe NAME` trains, bit for bit; a rerun loads the
# finished members and gives the same figures; a member whose run was
# interrupted after its last checkpoint continues to the same model; a member
# trained with another seed is refused; the test-set report is the
# ensemble's. Skips (exit 77) without MNIST-M.
set -eu
paper="$1"; data="$2"; work="$3"
if [ ! -f "$data/mnist_m_test_labels.txt" ]; then
  echo "MNIST-M not found in $data (run scripts/get-data.sh): skipped"
  exit 77
fi
fail() { echo "FAIL: $*"; exit 1; }
rm -rf "$work" && mkdir -p "$work"
common="--quick --threads 2 --seed 3 --progress none --data $data"
# shellcheck disable=SC2086
"$paper" --recipe best-and-rgb-cosine --validation-only $common --out "$work/ens" >"$work/first.log" 2>&1 ||
  { cat "$work/first.log"; fail "the first run"; }
grep "the ensemble of best + rgb-cosine" "$work/first.log"
for m in best rgb-cosine; do
  for f in model.dcnn member.txt identity.txt history.csv; do
    [ -f "$work/ens/members/$m/$f" ] || fail "members/$m/$f missing"
  done
done
# shellcheck disable=SC2086
"$paper" --recipe rgb-cosine --validation-only $common --out "$work/single" >"$work/single.log" 2>&1 ||
  { cat "$work/single.log"; fail "the single run"; }
cmp "$work/single/model.dcnn" "$work/ens/members/rgb-cosine/model.dcnn" ||
  fail "the member differs from --recipe rgb-cosine's model"
cp "$work/ens/validation.txt" "$work/validation.first"
cp "$work/ens/members/rgb-cosine/model.dcnn" "$work/member.first"
# a rerun: both members loaded, the same figures
# shellcheck disable=SC2086
"$paper" --recipe best-and-rgb-cosine --validation-only $common --out "$work/ens" >"$work/again.log" 2>&1 ||
  { cat "$work/again.log"; fail "the rerun"; }
[ "$(grep -c 'finished earlier' "$work/again.log")" = 2 ] || fail "the rerun did not load both members"
cmp "$work/validation.first" "$work/ens/validation.txt" || fail "the rerun's validation.txt differs"
# the same data by a relative path from another directory is the same run (resolved, as a single run's)
(cd "$(dirname "$data")" && "$paper" --recipe best-and-rgb-cosine --validation-only --quick --threads 2 --seed 3 \
  --progress none --data "$(basename "$data")" --out "$work/ens") >"$work/relative.log" 2>&1 ||
  { cat "$work/relative.log"; fail "the run with a relative data path"; }
[ "$(grep -c 'finished earlier' "$work/relative.log")" = 2 ] || fail "a relative data path was another run"
# --print-settings gives what the members train: --quick's 2 epochs included
[ "$("$paper" --recipe best-and-rgb-cosine --quick --print-settings | grep -c ' epochs=2$')" = 2 ] ||
  fail "--print-settings omits --quick's epochs: $("$paper" --recipe best-and-rgb-cosine --quick --print-settings)"
# interrupted after its last checkpoint: continued, the same model
rm "$work/ens/members/rgb-cosine/member.txt" "$work/ens/members/rgb-cosine/model.dcnn"
# shellcheck disable=SC2086
"$paper" --recipe best-and-rgb-cosine --validation-only $common --out "$work/ens" >"$work/resume.log" 2>&1 ||
  { cat "$work/resume.log"; fail "the resumed run"; }
grep -q "resumed from" "$work/resume.log" || fail "the member did not continue from its checkpoint"
cmp "$work/member.first" "$work/ens/members/rgb-cosine/model.dcnn" || fail "the continued member differs"
cmp "$work/validation.first" "$work/ens/validation.txt" || fail "the continued ensemble's figures differ"
# another seed in the same directory: refused before any data is read (status 2), nothing averaged in
status=0
"$paper" --recipe best-and-rgb-cosine --validation-only --quick --threads 2 --seed 4 --progress none --data "$data" \
  --out "$work/ens" >"$work/other.log" 2>&1 || status=$?
[ "$status" = 2 ] || fail "another seed's run: status $status, expected 2"
grep -q "holds a member trained otherwise" "$work/other.log" || fail "no message for a member trained otherwise"
# members finished by 2 processes (a processes=2 line after the identity's last): not this 1-process run's
# (the identity was compared as a prefix, so they were loaded and averaged in)
cp -R "$work/ens" "$work/ens2"
for m in best rgb-cosine; do sed -i 's/^epochs=/processes=2\nepochs=/' "$work/ens2/members/$m/member.txt"; done
grep -q '^processes=2$' "$work/ens2/members/best/member.txt" || fail "the test's member.txt has no processes line"
status=0
# shellcheck disable=SC2086
"$paper" --recipe best-and-rgb-cosine --validation-only $common --out "$work/ens2" >"$work/procs.log" 2>&1 || status=$?
[ "$status" = 2 ] && grep -q "holds a member trained otherwise" "$work/procs.log" ||
  { cat "$work/procs.log"; fail "members of 2 processes in a 1-process run: status $status, expected 2"; }
# the test set once: the ensemble's report, no model of its own, and none of
# the files a single model's report there had left (a report replaces the last whole)
echo stale > "$work/ens/model.dcnn"
echo stale > "$work/ens/loss.svg"
echo stale > "$work/ens/history.csv"
# shellcheck disable=SC2086
"$paper" --recipe best-and-rgb-cosine $common --out "$work/ens" >"$work/test.log" 2>&1 ||
  { cat "$work/test.log"; fail "the test run"; }
grep "Paper CNN family, ensemble (ours)" "$work/test.log"
[ -f "$work/ens/index.html" ] && [ -f "$work/ens/metrics.json" ] || fail "no report"
[ ! -f "$work/ens/model.dcnn" ] || fail "the ensemble's report has a model.dcnn"
[ ! -f "$work/ens/loss.svg" ] && [ ! -f "$work/ens/history.csv" ] || fail "an earlier report's curves stayed"
# --validation-only would write its model.dcnn beside that report: refused
status=0
# shellcheck disable=SC2086
"$paper" --recipe rgb-cosine --validation-only $common --out "$work/ens" >"$work/over.log" 2>&1 || status=$?
[ "$status" = 2 ] || fail "--validation-only into a report's directory: status $status, expected 2"
grep -q "holds a test-set report" "$work/over.log" || fail "no message for --validation-only over a report"
echo "best-and-rgb-cosine: members as their recipes train them, reloaded, continued and refused as they should be"
