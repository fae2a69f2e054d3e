#!/usr/bin/env bash
# The recipe ablation of issue #19 (docs/recipes.md): trains each configuration
# below with `digitcnn-paper --validation-only` (the test set is never loaded),
# then measures every model on the validation split and on the validation
# proxy of unseen backgrounds, and writes OUT/ablation.md:
#   configuration | settings | epochs | training time | validation (plain, with
#   the recipe's test-time augmentation) | proxy (plain, with TTA)
#
#   scripts/recipe-ablation.sh [--out DIR] [--build DIR] [--seed N] [--quick] [--list] [NAME...]
#
# Resumable: a configuration whose OUT/NAME/validation.txt exists is skipped
# when OUT/NAME/args.txt records the same digitcnn-paper arguments (another
# set is refused, status 2); one with a checkpoint continues from it
# (digitcnn-paper --resume, which checks the options too), so the same command
# after an interruption carries on. NAMEs choose configurations (default: all,
# in the order below). --quick trains on digitcnn-paper's quick subset for 1
# epoch (a check of the script, not a result), into out/ablation-quick unless
# --out is given.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out=""
build="$root/build"
seed=1
quick=0
list=0
names=()
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="${2:?--out needs a directory}"; shift ;;
    --build) build="${2:?--build needs a directory}"; shift ;;
    --seed) seed="${2:?--seed needs a number}"; shift ;;
    --quick) quick=1 ;;
    --list) list=1 ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    -*) echo "recipe-ablation: unknown option '$1' (see --help)" >&2; exit 2 ;;
    *) names+=("$1") ;;
  esac
  shift
done
# quick runs never land among real ones (a 1-epoch model would fill the table)
[ -n "$out" ] || { [ "$quick" = 1 ] && out="$root/out/ablation-quick" || out="$root/out/ablation"; }

# name | recipe | words on top of it (what the configuration changes)
configurations='
paper|paper|
rgb-cosine|rgb-cosine|
gray-cosine|rgb-cosine|rgb=0
rgb-gray|rgb-cosine|augment=1 rotation=0 translation=0 zoom_min=1 zoom_max=1 random_gray=0.5
rgb-gray-shift|rgb-cosine|augment=1 rotation=0 translation=0 zoom_min=1 zoom_max=1 random_gray=0.5 shift=2
rgb-gray-ema|rgb-cosine|augment=1 rotation=0 translation=0 zoom_min=1 zoom_max=1 random_gray=0.5 ema=0.999
rgb-gray-lowdrop|rgb-cosine|augment=1 rotation=0 translation=0 zoom_min=1 zoom_max=1 random_gray=0.5 ema=0.999 conv_dropout=0.1 dense_dropout=0.25
rgb-gray-quarter|rgb-cosine|augment=1 rotation=0 translation=0 zoom_min=1 zoom_max=1 random_gray=0.25 ema=0.999 conv_dropout=0.1 dense_dropout=0.25
rgb-gray-quarter-wide|rgb-cosine|augment=1 rotation=0 translation=0 zoom_min=1 zoom_max=1 random_gray=0.25 ema=0.999 conv_dropout=0.1 dense_dropout=0.25 width_multiplier=1.5
rgb-gray-quarter-32|rgb-cosine|augment=1 rotation=0 translation=0 zoom_min=1 zoom_max=1 random_gray=0.25 ema=0.999 conv_dropout=0.1 dense_dropout=0.25 size=32
rgb-gray-quarter-long|rgb-cosine|augment=1 rotation=0 translation=0 zoom_min=1 zoom_max=1 random_gray=0.25 ema=0.999 conv_dropout=0.1 dense_dropout=0.25 epochs=30
rgb-gray-quarter-32-deep|rgb-cosine|augment=1 rotation=0 translation=0 zoom_min=1 zoom_max=1 random_gray=0.25 ema=0.999 conv_dropout=0.1 dense_dropout=0.25 size=32 extra_blocks=1
rgb-gray-quarter-32-swap|rgb-cosine|augment=1 rotation=0 translation=0 zoom_min=1 zoom_max=1 random_gray=0.25 ema=0.999 conv_dropout=0.1 dense_dropout=0.25 size=32 background_swap=0.5
rgb-gray-quarter-32-deep-swap|rgb-cosine|augment=1 rotation=0 translation=0 zoom_min=1 zoom_max=1 random_gray=0.25 ema=0.999 conv_dropout=0.1 dense_dropout=0.25 size=32 extra_blocks=1 background_swap=0.5
first-candidate|paper|rgb=1 size=32 standardize=1 rotation=8 translation=0.08 zoom_min=0.92 zoom_max=1.08 channel_shuffle=0.5 random_gray=0.1 invert=0.3 brightness=0.3 contrast=0.3 saturation=0.3 epochs=15 batch=64 lr=0.002 weight_decay=0.0001 schedule=warmup-cosine warmup=1 per_step=1 label_smoothing=0.1 cutmix=1 ema=0.999 tta=5
best|best|
best-no-swap|best|background_swap=0
best-no-deep|best|extra_blocks=0
best-no-gray|best|random_gray=0
best-no-ema|best|ema=0
best-swap-all|best|background_swap=1
best-tta5|best|tta=5
best-wide|best|width_multiplier=1.5
best-20|best|epochs=20
best-ls|best|label_smoothing=0.1
best-swap-75|best|background_swap=0.75
best-wd|best|weight_decay=0.05
best-3stage|best|extra_stages=1 extra_blocks=0
best-3stage4|best|extra_stages=1
rgb-cosine-swap|rgb-cosine|augment=1 rotation=0 translation=0 zoom_min=1 zoom_max=1 background_swap=0.5
best-4blocks|best|extra_blocks=2
best-3blocks|best|extra_blocks=1
best-5blocks|best|extra_blocks=3
best-sgd|best|optimizer=sgd lr=0.02 momentum=0.9 weight_decay=0.0005 schedule=warmup-cosine warmup=1 per_step=1
best-bgturn|best|background_transform=0.5
best-mixup|best|mixup=0.2
best-affine|best|rotation=8 translation=0.05 zoom_min=0.92 zoom_max=1.08
best-elastic|best|digit_elastic=0.5
best-nodrop|best|conv_dropout=0 dense_dropout=0
best-lr2|best|lr=0.002
best-lr05|best|lr=0.0005
best-lr3|best|lr=0.003
best-w125|best|width_multiplier=1.25
best-cutout|best|cutout=0.5 cutout_size=16
best-cutout-20|best|cutout=1 cutout_size=20
best-40|best|size=40
best-shuffle|best|channel_shuffle=0.5
'
if [ "$list" = 1 ]; then
  printf '%s\n' "$configurations" | sed '/^$/d'
  exit 0
fi
paper="$build/examples/digitcnn-paper"
proxy="$build/examples/digitcnn-proxy"
for tool in "$paper" "$proxy"; do
  [ -x "$tool" ] || { echo "recipe-ablation: $tool not found (build first: cmake --build $build)" >&2; exit 1; }
done
selected() {
  [ ${#names[@]} -eq 0 ] && return 0
  for n in ${names[@]+"${names[@]}"}; do [ "$n" = "$1" ] && return 0; done
  return 1
}
for n in ${names[@]+"${names[@]}"}; do
  # a here-string, not a pipe: under pipefail grep -q leaving early made printf's SIGPIPE a "no match"
  grep -q "^$n|" <<< "$configurations" || { echo "recipe-ablation: unknown configuration '$n' (--list)" >&2; exit 2; }
done
# The validation proxy is made from digitcnn-paper's seed-1 split: with another
# seed most of it would be training images.
[ "$seed" = 1 ] || { echo "recipe-ablation: --seed $seed: the validation proxy holds out seed 1's split; use seed 1" >&2; exit 2; }
mkdir -p "$out"
models=()
while IFS='|' read -r name recipe words; do
  [ -n "$name" ] || continue
  selected "$name" || continue
  dir="$out/$name"
  models+=("$dir/model.dcnn")
  args=(--recipe "$recipe" --seed "$seed" --out "$dir" --validation-only --progress lines)
  # --quick's 1 epoch as the last --set word: a configuration's own epochs= would beat --epochs
  if [ "$quick" = 1 ]; then
    args+=(--quick --set "${words:+$words }epochs=1")
  elif [ -n "$words" ]; then
    args+=(--set "$words")
  fi
  recorded="$(printf '%s\n' "${args[@]}")"
  if [ -f "$dir/args.txt" ] && [ "$(cat "$dir/args.txt")" != "$recorded" ]; then
    echo "recipe-ablation: $dir was made with other arguments (its args.txt); give --out another directory" >&2
    exit 2
  fi
  if [ -f "$dir/validation.txt" ]; then
    [ -f "$dir/args.txt" ] || echo "== $name: (made before args.txt: its arguments are not checked)"
    # the same arguments under a changed recipe table are another configuration: its settings decide
    trained=$(sed -n 's/^settings=//p' "$dir/validation.txt" | head -n 1)
    now=$("$paper" "${args[@]}" --print-settings) ||
      { echo "recipe-ablation: digitcnn-paper ${args[*]} --print-settings failed" >&2; exit 2; }
    if [ "$trained" != "$now" ]; then
      echo "recipe-ablation: $dir was trained with the settings '$trained'; $name now gives '$now'; give --out" \
        "another directory" >&2
      exit 2
    fi
    echo "== $name: done ($dir/validation.txt)"
    continue
  fi
  mkdir -p "$dir"
  printf '%s\n' "$recorded" > "$dir/args.txt"
  if [ -f "$dir/checkpoints/last.dcnn" ]; then
    args+=(--resume "$dir/checkpoints/last.dcnn")
    echo "== $name: continuing from $dir/checkpoints/last.dcnn"
  else
    echo "== $name: digitcnn-paper ${args[*]}"
  fi
  "$paper" "${args[@]}"
done <<< "$configurations"

# Every model on the validation split and its proxy, plain and with 5 shifted copies (one proxy).
[ ${#models[@]} -gt 0 ] || exit 0
evaluate=()
for m in "${models[@]}"; do evaluate+=(--evaluate "$m"); done
"$proxy" --out "$out/proxy-validation" --tta 5 "${evaluate[@]}" | tee "$out/proxy.txt"

value() { sed -n "s/^$2=//p" "$1" | head -1; }
# MODEL: MNIST-M validation A% (B% with TTA 5 copies), unseen-background proxy C% (D% with TTA 5 copies) (...)
proxy_of() { grep -F "$1:" "$out/proxy.txt" | sed -n "s/.*proxy \([0-9.]*\)% (\([0-9.]*\)% with.*/\\$2/p" | head -1; }
{
  echo "| configuration | changes | epochs | training | validation | validation, recipe TTA | proxy | proxy, 5 copies |"
  echo "|---|---|---|---|---|---|---|---|"
  while IFS='|' read -r name recipe words; do
    [ -n "$name" ] || continue
    selected "$name" || continue
    dir="$out/$name"
    v="$dir/validation.txt"
    printf '| %s | %s | %s | %s s | %.2f%% | %.2f%% | %s%% | %s%% |\n' "$name" "${recipe}${words:+ + $words}" \
      "$(value "$v" epochs)" "$(value "$v" train_seconds)" \
      "$(awk -v a="$(value "$v" accuracy_plain)" 'BEGIN { print 100 * a }')" \
      "$(awk -v a="$(value "$v" accuracy)" 'BEGIN { print 100 * a }')" \
      "$(proxy_of "$dir/model.dcnn" 1)" "$(proxy_of "$dir/model.dcnn" 2)"
  done <<< "$configurations"
} > "$out/ablation.md"
echo
cat "$out/ablation.md"
