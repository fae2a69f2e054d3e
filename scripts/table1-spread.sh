#!/usr/bin/env bash
# Mean and standard deviation over seeds of digitcnn-table1 results (issue #18:
# the spread that tells which differences in Table 1 are real).
#   scripts/table1-spread.sh OUT_SEED1 OUT_SEED2 OUT_SEED3 ...
# Each argument is a finished `digitcnn-table1 --out DIR` (its table1.csv);
# models missing from a directory are averaged over the others, and so are
# empty fields (a metric undefined in that run; "nan" in files of earlier
# versions: n/a when no run defines it; the seeds column counts the runs).
# Prints a Markdown table: per model, n, and mean ± sample standard deviation
# of each metric in percent.
set -euo pipefail
if [ $# -lt 1 ] || [ "$1" = "--help" ]; then
  echo "usage: $0 TABLE1_OUT_DIR... (each with a table1.csv)" >&2
  [ $# -ge 1 ] && exit 0 || exit 2
fi
files=()
for d in "$@"; do
  [ -f "$d/table1.csv" ] || { echo "$0: $d/table1.csv not found (is that run finished?)" >&2; exit 1; }
  files+=("$d/table1.csv")
done
awk -F, '
  FNR == 1 { if (!header) { for (i = 2; i <= 8; i++) name[i] = $i; header = 1 } next }
  {
    m = $1
    if (!(m in n)) order[++models] = m
    n[m]++
    for (i = 2; i <= 8; i++) {
      if ($i == "" || tolower($i) ~ /^[-+]?nan$/) continue  # undefined: empty since 0.2.0, "nan" before
      v = 100 * $i; defined[m, i]++; sum[m, i] += v; sq[m, i] += v * v
    }
  }
  END {
    printf "| Model | seeds |"
    for (i = 2; i <= 8; i++) printf " %s |", name[i]
    printf "\n|---|---|"
    for (i = 2; i <= 8; i++) printf "---|"
    printf "\n"
    for (k = 1; k <= models; k++) {
      m = order[k]
      printf "| %s | %d |", m, n[m]
      for (i = 2; i <= 8; i++) {
        c = defined[m, i]
        if (!c) { printf " n/a |"; continue }
        mean = sum[m, i] / c
        var = c > 1 ? (sq[m, i] - c * mean * mean) / (c - 1) : 0
        printf " %.2f ± %.2f |", mean, sqrt(var > 0 ? var : 0)
      }
      printf "\n"
    }
  }' "${files[@]}"
