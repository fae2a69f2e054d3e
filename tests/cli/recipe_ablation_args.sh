#!/bin/sh
# scripts/recipe-ablation.sh against stand-in programs: --quick sets 1 epoch
# as the last --set word (a configuration's own epochs= would win otherwise),
# a finished configuration is skipped only for the same arguments (others are
# refused with status 2, so a quick model never fills a real table), and the
# table is written from each run's validation.txt and the proxy's figures.
set -u
script="$1"; work="$2"
fail() { echo "FAIL: $*"; exit 1; }
rm -rf "$work" && mkdir -p "$work/build/examples"
calls="$work/calls.txt"
cat > "$work/build/examples/digitcnn-paper" <<STUB
#!/bin/sh
for a in "\$@"; do [ "\$a" = --print-settings ] && { echo "settings\${STUB_SETTINGS:-}"; exit 0; }; done
printf '%s|' "\$@" >> "$calls"; echo >> "$calls"
while [ \$# -gt 0 ]; do
  case "\$1" in --out) d="\$2"; shift ;; esac
  shift
done
mkdir -p "\$d"
printf 'settings=settings%s\nepochs=1\ntrain_seconds=2.5\naccuracy=0.5\naccuracy_plain=0.25\n' "\${STUB_SETTINGS:-}" > "\$d/validation.txt"
: > "\$d/model.dcnn"
STUB
cat > "$work/build/examples/digitcnn-proxy" <<STUB
#!/bin/sh
while [ \$# -gt 0 ]; do
  case "\$1" in --evaluate) echo "\$2: MNIST-M validation 1% (2% with TTA 5 copies), unseen-background proxy 3% (4% with TTA 5 copies)"; shift ;; esac
  shift
done
STUB
chmod +x "$work/build/examples/digitcnn-paper" "$work/build/examples/digitcnn-proxy"
out="$work/quick out"
bash "$script" --build "$work/build" --out "$out" --quick best-20 paper >"$work/log1" 2>&1 || fail "quick run: $(cat "$work/log1")"
grep -q -- '--set|epochs=20 epochs=1|' "$calls" || fail "best-20's quick run does not end its --set with epochs=1: $(cat "$calls")"
grep -q -- '--recipe|paper|.*--quick|--set|epochs=1|' "$calls" || fail "paper's quick run lacks --set epochs=1: $(cat "$calls")"
grep -q '^| best-20 | best + epochs=20 | 1 | 2.5 s | 25.00% | 50.00% | 3% | 4% |$' "$out/ablation.md" || fail "table row: $(cat "$out/ablation.md")"
bash "$script" --build "$work/build" --out "$out" --quick best-20 paper >"$work/log2" 2>&1 || fail "rerun: $(cat "$work/log2")"
[ "$(wc -l < "$calls")" -eq 2 ] || fail "a finished configuration was trained again"
grep -q '== paper: done' "$work/log2" || fail "no 'done' for a finished configuration"
bash "$script" --build "$work/build" --out "$out" paper >"$work/log3" 2>&1
[ $? -eq 2 ] || fail "a quick directory was taken for a full run"
grep -q "made with other arguments" "$work/log3" || fail "no message for other arguments: $(cat "$work/log3")"
# the same arguments, but the recipe table changed since: refused, naming both settings
STUB_SETTINGS=" extra_blocks=1" bash "$script" --build "$work/build" --out "$out" --quick paper >"$work/log4" 2>&1
[ $? -eq 2 ] || fail "a configuration trained with other settings was taken as done"
grep -q "was trained with the settings 'settings'; paper now gives 'settings extra_blocks=1'" "$work/log4" ||
  fail "no message naming both settings: $(cat "$work/log4")"
echo "recipe ablation: quick epochs last, finished runs checked by their arguments and settings"
