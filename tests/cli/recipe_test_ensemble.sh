#!/bin/sh
# scripts/recipe-test.sh on an ensemble recipe, against stand-in programs whose
# figures are known: one digitcnn-paper run per seed, the proxy measured on
# each seed's members together (digitcnn-proxy --ensemble), the training time
# summed over the members' histories, means and sample standard deviations
# over the seeds; a second run trains nothing again, and another recipe is
# refused in the same output directory; a single-model recipe whose settings
# changed since its seeds finished is refused.
set -u
script="$1"; work="$2"
fail() { echo "FAIL: $*"; exit 1; }
rm -rf "$work" && mkdir -p "$work/build/examples"
calls="$work/calls.txt"
# digitcnn-paper stand-in (--recipe R --seed S --out DIR): members best and
# rgb-cosine whose epochs took 100 * S + 0.5 and 10 * S seconds; accuracy 0.98S
cat > "$work/build/examples/digitcnn-paper" <<STUB
#!/bin/sh
while [ \$# -gt 0 ]; do
  case "\$1" in
    --recipe) r="\$2"; shift ;; --seed) s="\$2"; shift ;; --out) d="\$2"; shift ;;
    --print-settings) # an ensemble prints one "MEMBER: SETTINGS" line per member
      if [ "\$r" = best ]; then echo "settings of \$r\${STUB_SETTINGS:-}"
      else printf 'best: settings of best%s\nrgb-cosine: settings of rgb-cosine%s\n' "\${STUB_SETTINGS:-}" "\${STUB_SETTINGS:-}"; fi
      exit 0 ;;
  esac
  shift
done
echo "paper \$r \$s" >> "$calls"
if [ "\$r" = best ]; then # one model: its identity records the settings
  mkdir -p "\$d/checkpoints"
  printf 'recipe=best\nsettings=settings of best%s\nseed=%s\n' "\${STUB_SETTINGS:-}" "\$s" > "\$d/checkpoints/identity.txt"
  printf '{\n  "accuracy": 0.98%s,\n' "\$s" > "\$d/metrics.json"
  printf 'epoch,seconds\n1,%s\n' \$((100 * s)) > "\$d/history.csv"
  : > "\$d/model.dcnn"
  : > "\$d/index.html"
  exit 0
fi
mkdir -p "\$d/members/best" "\$d/members/rgb-cosine"
printf 'epoch,seconds\n1,%s\n2,0.5\n' \$((100 * s)) > "\$d/members/best/history.csv"
printf 'epoch,seconds\n1,%s\n' \$((10 * s)) > "\$d/members/rgb-cosine/history.csv"
for m in best rgb-cosine; do printf 'recipe=%s\nsettings=settings of %s%s\n' \$m \$m "\${STUB_SETTINGS:-}" > "\$d/members/\$m/member.txt"; done
: > "\$d/members/best/model.dcnn"
: > "\$d/members/rgb-cosine/model.dcnn"
printf '{\n  "accuracy": 0.98%s,\n' "\$s" > "\$d/metrics.json"
: > "\$d/index.html"  # published last: a seed is done with it
STUB
# digitcnn-proxy stand-in: with --ensemble the ensemble line, its proxy figure
# 90 + seed (the seed read from the first model's path)
cat > "$work/build/examples/digitcnn-proxy" <<STUB
#!/bin/sh
ensemble=0; first=""
while [ \$# -gt 0 ]; do
  case "\$1" in
    --ensemble) ensemble=1 ;;
    --evaluate) [ -z "\$first" ] && first="\$2"; echo "\$2: MNIST-M test 98.00%, unseen-background proxy 80.00% (x)"; shift ;;
    --out|--split) shift ;;
  esac
  shift
done
echo "proxy ensemble=\$ensemble \$first" >> "$calls"
if [ \$ensemble = 1 ]; then
  s=\$(echo "\$first" | sed -n 's/.*seed\([0-9]*\).*/\1/p')
  echo "ensemble of the 2 models (probabilities averaged): MNIST-M test 99.000%, unseen-background proxy 9\${s}.000%"
fi
STUB
chmod +x "$work/build/examples/digitcnn-paper" "$work/build/examples/digitcnn-proxy"
run() { bash "$script" --build "$work/build" --out "$work/out" --seeds 2 --recipe best-and-rgb-cosine --baseline "$work/none"; }
out=$(run 2>"$work/err") || fail "status $?: $(cat "$work/err")"
echo "$out"
[ "$(grep -c '^paper best-and-rgb-cosine' "$calls")" = 2 ] || fail "expected one run per seed: $(cat "$calls")"
[ "$(grep -c '^proxy ensemble=1' "$calls")" = 2 ] || fail "expected one ensemble proxy evaluation per seed"
grep -q '^proxy ensemble=0' "$calls" && fail "an ensemble seed was evaluated as one model"
# seed 1: 98.1%, 100 + 0.5 + 10 s, proxy 91%; seed 2: 98.2%, 200 + 0.5 + 20 s, 92%
echo "$out" | grep -q '^| 1 | 98.10% | 110.5 s | 91.000% |' || fail "seed 1's row"
echo "$out" | grep -q '^| 2 | 98.20% | 220.5 s | 92.000% |' || fail "seed 2's row"
# means 98.15 ± 0.07, 165.5 ± 77.8 s, 91.5 ± 0.71
echo "$out" | grep -q '^| mean ± sd (2 seeds) | 98.15 ± 0.07% | 166 ± 78 s | 91.50 ± 0.71% |' || fail "means"
: > "$calls"
run >/dev/null 2>&1 || fail "second run"
grep -q '^paper ' "$calls" && fail "a finished seed was trained again"
# killed between metrics.json and index.html (published last): that seed is not done
rm "$work/out/seed2/index.html"
run >/dev/null 2>&1 || fail "third run"
[ "$(grep -c '^paper best-and-rgb-cosine 2' "$calls")" = 1 ] || fail "a seed without index.html was taken as done"
grep -q '^paper best-and-rgb-cosine 1' "$calls" && fail "a finished seed was trained again"
bash "$script" --build "$work/build" --out "$work/out" --seeds 2 --recipe best >/dev/null 2>"$work/err" &&
  fail "another recipe's finished seeds were accepted"
grep -q "holds the test of recipe 'best-and-rgb-cosine'" "$work/err" || fail "no message for another recipe"
# the same recipe refit on every training image is another test, not a continuation of this one
bash "$script" --build "$work/build" --out "$work/out" --seeds 2 --recipe best-and-rgb-cosine --val-fraction 0 \
  >/dev/null 2>"$work/err" && fail "a refit was taken for the held-out test's seeds"
grep -q "holds the test of recipe 'best-and-rgb-cosine'" "$work/err" || fail "no message for the refit"
# a single-model recipe whose settings changed since its seeds finished: refused, naming both
run_best() { bash "$script" --build "$work/build" --out "$work/out-best" --seeds 1 --recipe best --baseline "$work/none"; }
run_best >/dev/null 2>"$work/err" || fail "the single-model recipe: $(cat "$work/err")"
: > "$calls"
run_best >/dev/null 2>&1 || fail "the single-model recipe, again"
grep -q '^paper ' "$calls" && fail "a finished seed of the same settings was trained again"
STUB_SETTINGS=" epochs=20" run_best >/dev/null 2>"$work/err" && fail "a seed trained with other settings was taken as done"
grep -q "trained with the settings 'settings of best'; recipe best now has 'settings of best epochs=20'" "$work/err" ||
  fail "no message naming both settings: $(cat "$work/err")"
# an ensemble's finished seeds: each member's member.txt is compared with the recipe's settings now
STUB_SETTINGS=" epochs=20" run >/dev/null 2>"$work/err" && fail "an ensemble seed trained with other settings was taken as done"
grep -q "member best in $work/out/seed1 was trained with the settings 'settings of best'; recipe best-and-rgb-cosine now has 'settings of best epochs=20'" "$work/err" ||
  fail "no message naming the ensemble member's settings: $(cat "$work/err")"
# a member without member.txt (a member added to the recipe since): refused with the message, not silently
rm "$work/out/seed1/members/best/member.txt"
run >/dev/null 2>"$work/err"
[ $? -eq 2 ] || fail "a seed whose member lacks member.txt: expected status 2"
grep -q "member best in $work/out/seed1 was trained with the settings ''" "$work/err" ||
  fail "no message for a member without member.txt: $(cat "$work/err")"
echo "recipe-test on an ensemble: as computed by hand; changed settings refused"
