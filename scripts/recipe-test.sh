#!/usr/bin/env bash
# The final recipe on the test set (issue #19; docs/recipes.md): trains
# `digitcnn-paper --recipe RECIPE` for seeds 1..N (each evaluates the test set
# once), then measures every seed's model on the test-set proxy of unseen
# backgrounds (digitcnn-proxy --split test) beside BASELINE (default: the
# paper protocol's model of the ablation, out/ablation/paper/model.dcnn,
# which never saw a test image), and writes OUT/test.md: per seed the test
# accuracy, training time and proxy accuracy, then mean ± sample standard
# deviation. RECIPE may be an ensemble (best-and-rgb-cosine): digitcnn-paper then
# trains its members into OUT/seedS/members/ and evaluates their averaged
# probabilities; the proxy is measured on that average (digitcnn-proxy
# --ensemble) and the training time is the sum of the members'.
#
#   scripts/recipe-test.sh [--out DIR] [--build DIR] [--recipe NAME] [--seeds N] [--baseline MODEL]
#                          [--val-fraction X]
#
# --val-fraction X is passed to digitcnn-paper: 0 trains each seed on all the
# training images (no validation split, the last epoch's weights), the refit
# of a recipe designed on the validation split. Not for an ensemble.
#
# Resumable: a seed whose OUT/seedS/metrics.json exists is not trained again
# (unless its OUT/seedS/checkpoints/identity.txt records other settings than
# the recipe now has: then status 2);
# one with a checkpoint continues from it (an ensemble's members continue by
# themselves). Run it once a recipe is final: the
# test set is for the answer, not for choosing.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$root/out/recipe-test"
build="$root/build"
recipe=best
seeds=3
baseline="$root/out/ablation/paper/model.dcnn"
val_fraction=""
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="${2:?--out needs a directory}"; shift ;;
    --build) build="${2:?--build needs a directory}"; shift ;;
    --recipe) recipe="${2:?--recipe needs a name}"; shift ;;
    --seeds) seeds="${2:?--seeds needs a number}"; shift ;;
    --baseline) baseline="${2:?--baseline needs a model file}"; shift ;;
    --val-fraction) val_fraction="${2:?--val-fraction needs a number}"; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
    *) echo "recipe-test: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
case "$seeds" in '' | *[!0-9]* | 0) echo "recipe-test: --seeds $seeds: give a positive number" >&2; exit 2 ;; esac
paper="$build/examples/digitcnn-paper"
proxy="$build/examples/digitcnn-proxy"
for tool in "$paper" "$proxy"; do
  [ -x "$tool" ] || { echo "recipe-test: $tool not found (build first: cmake --build $build)" >&2; exit 1; }
done
mkdir -p "$out"
# one recipe (and split) per OUT: a finished seed of another must not be taken for this one's
run_name="$recipe${val_fraction:+ --val-fraction $val_fraction}"
if [ -f "$out/recipe.txt" ] && [ "$(cat "$out/recipe.txt")" != "$run_name" ]; then
  echo "recipe-test: $out holds the test of recipe '$(cat "$out/recipe.txt")'; give --out another directory" >&2
  exit 2
fi
printf '%s\n' "$run_name" > "$out/recipe.txt"
# ...and the recipe's settings as this build has them: a finished seed trained
# with others (the table changed since) is not this recipe's answer
settings=$("$paper" --recipe "$recipe" --print-settings) ||
  { echo "recipe-test: digitcnn-paper --recipe $recipe --print-settings failed" >&2; exit 2; }
models=()
for ((s = 1; s <= seeds; ++s)); do
  dir="$out/seed$s"
  log="$out/seed$s.log"
  # index.html is published last (report.c): with it, the model and metrics are this run's
  if [ -f "$dir/metrics.json" ] && [ -f "$dir/index.html" ]; then
    if [ -f "$dir/checkpoints/identity.txt" ]; then
      recorded=$(sed -n 's/^settings=//p' "$dir/checkpoints/identity.txt")
      if [ "$recorded" != "$settings" ]; then
        echo "recipe-test: seed $s in $dir was trained with the settings '$recorded'; recipe $recipe now has" \
          "'$settings'; give --out another directory" >&2
        exit 2
      fi
    elif [ -d "$dir/members" ]; then # an ensemble: --print-settings gave "MEMBER: SETTINGS" lines
      while IFS= read -r line; do
        member=${line%%: *} want=${line#*: }
        recorded=$(sed -n 's/^settings=//p' "$dir/members/$member/member.txt" 2>/dev/null || true) # no member.txt: empty, refused below
        if [ "$recorded" != "$want" ]; then
          echo "recipe-test: seed $s's member $member in $dir was trained with the settings '$recorded'; recipe" \
            "$recipe now has '$want'; give --out another directory" >&2
          exit 2
        fi
      done <<< "$settings"
    fi
    echo "== seed $s: done ($dir)"
    continue
  fi
  args=(--recipe "$recipe" --seed "$s" --out "$dir" --progress lines)
  [ -z "$val_fraction" ] || args+=(--val-fraction "$val_fraction")
  if [ -f "$dir/checkpoints/last.dcnn" ]; then
    args+=(--resume "$dir/checkpoints/last.dcnn")
    echo "== seed $s: continuing from $dir/checkpoints/last.dcnn" | tee -a "$log"
  elif [ -d "$dir/members" ]; then # an ensemble's members continue by themselves
    echo "== seed $s: continuing digitcnn-paper ${args[*]}" | tee -a "$log"
  else
    echo "== seed $s: digitcnn-paper ${args[*]}" | tee "$log"
  fi
  "$paper" "${args[@]}" | tee -a "$log"
done
for ((s = 1; s <= seeds; ++s)); do
  [ -d "$out/seed$s/members" ] || models+=("$out/seed$s/model.dcnn")
done

evaluate=()
for m in ${models[@]+"${models[@]}"}; do evaluate+=(--evaluate "$m"); done
if [ -f "$baseline" ]; then
  evaluate+=(--evaluate "$baseline")
else
  echo "recipe-test: no baseline model $baseline (scripts/recipe-ablation.sh paper makes it); proxy without it" >&2
fi
: > "$out/proxy.txt"
if [ ${#evaluate[@]} -gt 0 ]; then
  "$proxy" --split test --out "$out/proxy-test" "${evaluate[@]}" | tee -a "$out/proxy.txt"
fi
# an ensemble's seeds: its members' averaged probabilities on the proxy, one line
# "ensemble of the N models (...): MNIST-M test A%, unseen-background proxy C%"
for ((s = 1; s <= seeds; ++s)); do
  [ -d "$out/seed$s/members" ] || continue
  evaluate=()
  for m in "$out/seed$s"/members/*/model.dcnn; do evaluate+=(--evaluate "$m"); done
  line="$("$proxy" --split test --out "$out/proxy-test" --ensemble "${evaluate[@]}" | tee -a "$out/seed$s.log" |
    grep '^ensemble' || true)"
  [ -n "$line" ] || { echo "recipe-test: digitcnn-proxy printed no ensemble line for seed $s" >&2; exit 1; }
  printf '%s: %s\n' "$out/seed$s/members" "$line" | tee -a "$out/proxy.txt"
done

# MODEL: MNIST-M test A% (...), unseen-background proxy C% (...)
proxy_of() { grep -F "$1:" "$out/proxy.txt" | sed -n 's/.*proxy \([0-9.]*\)%.*/\1/p' | head -1 || true; }
# the whole training time of a seed, every sitting: the seconds column of its
# history, or of its members' histories
trained_of() {
  local files=() f
  for f in "$1"/history.csv "$1"/members/*/history.csv; do [ -f "$f" ] && files+=("$f"); done
  [ ${#files[@]} -gt 0 ] || return 0
  awk -F, 'FNR > 1 { t += $2; n++ } END { if (n) printf "%.1f", t }' "${files[@]}" 2>/dev/null || true
}
# the measured accuracy of the seed's report (metrics.json's "accuracy", a fraction), in percent
accuracy_of() {
  sed -n 's/^ *"accuracy": *\([0-9.eE+-]*\),*$/\1/p' "$1" 2>/dev/null | head -1 |
    awk 'NF { printf "%.4f", 100 * $1 }' || true
}
{
  echo "| seed | test accuracy | training (every sitting) | proxy |"
  echo "|---|---|---|---|"
  rows=""
  for ((s = 1; s <= seeds; ++s)); do
    a="$(accuracy_of "$out/seed$s/metrics.json")"
    t="$(trained_of "$out/seed$s")"
    if [ -d "$out/seed$s/members" ]; then p="$(proxy_of "$out/seed$s/members")"; else p="$(proxy_of "$out/seed$s/model.dcnn")"; fi
    printf '| %s | %s%% | %s s | %s%% |\n' "$s" "$([ -n "$a" ] && printf '%.2f' "$a" || echo '?')" "${t:-?}" "${p:-?}"
    rows+="${a:--} ${t:--} ${p:--}"$'\n'
  done
  # mean ± sample standard deviation per column over the seeds with a value ("-": missing)
  printf '%s' "$rows" | awk '
    { for (i = 1; i <= 3; i++) if ($i != "-") { v[++n[i], i] = $i; sum[i] += $i } }
    END {
      for (i = 1; i <= 3; i++) {
        if (!n[i]) { cell[i] = "?"; continue }
        mean = sum[i] / n[i]; sq = 0
        for (r = 1; r <= n[i]; r++) sq += (v[r, i] - mean) ^ 2
        sd = n[i] > 1 ? sqrt(sq / (n[i] - 1)) : 0
        cell[i] = sprintf(i == 2 ? "%.0f ± %.0f s" : "%.2f ± %.2f%%", mean, sd) (n[i] < NR ? sprintf(" (%d seeds)", n[i]) : "")
      }
      printf "| mean ± sd (%d seeds) | %s | %s | %s |\n", NR, cell[1], cell[2], cell[3]
    }'
  if [ -f "$baseline" ]; then echo "| baseline $(basename "$(dirname "$baseline")") | | | $(proxy_of "$baseline")% |"; fi
} > "$out/test.md"
echo
cat "$out/test.md"
