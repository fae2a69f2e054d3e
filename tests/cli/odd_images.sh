#!/bin/sh
# The examples on data in MNIST-M's layout that is not MNIST-M (tests/cli/odd_mnistm.c):
# 20x24 images train in digitcnn-table1's 32x32 models (resized) and in
# digitcnn-paper; a test split of gray PNGs under a colour model (or an
# ensemble's colour member) is refused before training, naming the gray images.
#   odd_images.sh ODD_MNISTM EXAMPLES_DIR WORK
set -u
make="$1"; bin="$2"; work="$3"
fail() { echo "FAIL: $*"; exit 1; }
rm -rf "$work"; mkdir -p "$work/odd/mnist_m_train" "$work/odd/mnist_m_test" "$work/graytest/mnist_m_train" \
  "$work/graytest/mnist_m_test"
"$make" "$work/odd" 20 24 3 3 || fail "cannot write the 20x24 data"
"$make" "$work/graytest" 20 24 3 1 || fail "cannot write the gray-test data"
common="--epochs 1 --threads 1 --progress none"

"$bin/digitcnn-table1" --data "$work/odd" --models lenet5,mobilenetv2 $common --out "$work/table1" >"$work/table1.log" 2>&1 \
  || { cat "$work/table1.log"; fail "digitcnn-table1 on 20x24 images"; }
grep -q "LeNet-5" "$work/table1/table1.md" || fail "no LeNet-5 row in table1.md"

"$bin/digitcnn-paper" --data "$work/odd" --rgb $common --out "$work/paper" >"$work/paper.log" 2>&1 \
  || { cat "$work/paper.log"; fail "digitcnn-paper --rgb on 20x24 images"; }

"$bin/digitcnn-paper" --data "$work/graytest" --rgb $common --out "$work/gray" >"$work/gray.log" 2>&1
status=$?
[ "$status" -eq 1 ] || { cat "$work/gray.log"; fail "gray test images under --rgb: status $status, not 1"; }
grep -q "every test image is gray" "$work/gray.log" || { cat "$work/gray.log"; fail "the refusal does not name the gray images"; }
[ -e "$work/gray/checkpoints/last.dcnn" ] && fail "the refusal came after training (a checkpoint was written)"
[ -e "$work/gray/model.dcnn" ] && fail "a model was written"

# An ensemble's colour member is refused the same way, before it trains.
"$bin/digitcnn-paper" --data "$work/graytest" --recipe best-and-rgb-cosine --threads 1 --progress none \
  --out "$work/ensemble" >"$work/ensemble.log" 2>&1
status=$?
[ "$status" -eq 1 ] || { cat "$work/ensemble.log"; fail "gray test images under a colour ensemble: status $status, not 1"; }
grep -q "every test image is gray" "$work/ensemble.log" || { cat "$work/ensemble.log"; fail "the ensemble's refusal does not name the gray images"; }
[ -e "$work/ensemble/members/best/checkpoints/last.dcnn" ] && fail "the ensemble's first member trained before the refusal"
# Test images 8,200 pixels wide (valid: the loaders take up to 2^26 pixels) once failed the whole run at
# its end: the report's grid of misclassified digits passed a PNG's 65,535-pixel side, and no model or
# report was kept. Now the grid has fewer columns (or is left out) and the run finishes.
mkdir -p "$work/wide/mnist_m_train" "$work/wide/mnist_m_test"
"$make" "$work/wide" 2 8200 3 3 || fail "cannot write the 2x8200 data"
"$bin/digitcnn-paper" --data "$work/wide" --rgb $common --no-checkpoints --out "$work/widepaper" >"$work/wide.log" 2>&1 \
  || { cat "$work/wide.log"; fail "digitcnn-paper on 2x8200 test images"; }
[ -s "$work/widepaper/model.dcnn" ] && [ -s "$work/widepaper/index.html" ] || fail "no model or report for 2x8200 images"
if grep -q "misclassified" "$work/widepaper/index.html" && [ -e "$work/widepaper/misclassified/00.png" ]; then
  [ -e "$work/widepaper/misclassified.png" ] || grep -q "is left out" "$work/widepaper/index.html" \
    || fail "neither the grid nor a note about it"
fi
# --set text of 8.4 KB (identity.txt takes 16 KiB): validation.txt once kept its first 8,191 bytes, the figures lost
long_set="$(printf 'rgb=1 %.0s' $(seq 1400))epochs=1"
"$bin/digitcnn-paper" --data "$work/odd" --set "$long_set" $common --validation-only --out "$work/longset" \
  >"$work/longset.log" 2>&1 || { cat "$work/longset.log"; fail "digitcnn-paper with a long --set"; }
grep -q '^accuracy=' "$work/longset/validation.txt" || fail "validation.txt lost its figures after a long --set"
# ... and a test run into that directory is refused before any data is read (it replaced the model and left
# validation.txt describing the one it replaced)
cp "$work/longset/model.dcnn" "$work/longset.dcnn"
"$bin/digitcnn-paper" --data "$work/absent" $common --out "$work/longset" >"$work/longset2.log" 2>&1
status=$?
[ "$status" -eq 2 ] && grep -q "holds a --validation-only run (validation.txt)" "$work/longset2.log" ||
  { cat "$work/longset2.log"; fail "a test run into a validation run's directory: status $status"; }
cmp -s "$work/longset/model.dcnn" "$work/longset.dcnn" || fail "the validation run's model was replaced"
# digitcnn-proxy checks what it is given before it makes and writes the proxy: a model that cannot be
# loaded, or a --grid directory that does not exist, once failed after the whole proxy was written.
"$bin/digitcnn-proxy" --data "$work/odd" --split test --out "$work/proxy" --evaluate "$work/no-such-model.dcnn" \
  >"$work/proxy.log" 2>&1
status=$?
[ "$status" -eq 1 ] && grep -q "no-such-model.dcnn" "$work/proxy.log" || { cat "$work/proxy.log"; fail "digitcnn-proxy with a missing model: status $status"; }
[ -e "$work/proxy" ] && fail "digitcnn-proxy wrote its --out before finding the model missing"
: >"$work/file"
"$bin/digitcnn-proxy" --data "$work/odd" --split test --out "$work/proxy" --grid "$work/file/grid.png" \
  >"$work/proxy.log" 2>&1
status=$?
[ "$status" -eq 1 ] && grep -q "cannot create the directory $work/file" "$work/proxy.log" || { cat "$work/proxy.log"; fail "digitcnn-proxy with an impossible --grid directory: status $status"; }
[ -e "$work/proxy/mnist_m_test_labels.txt" ] && fail "digitcnn-proxy wrote the proxy before finding the --grid directory impossible"
rm -rf "$work/proxy"
mkdir -p "$work/griddir"
for grid in "$work/griddir" "$work/newdir/." "$work/newdir/sub/.."; do
  "$bin/digitcnn-proxy" --data "$work/odd" --split test --out "$work/proxy" --grid "$grid" >"$work/proxy.log" 2>&1
  status=$?
  [ "$status" -eq 1 ] && grep -q "give a file name for the picture" "$work/proxy.log" || { cat "$work/proxy.log"; fail "digitcnn-proxy with a directory as --grid ($grid): status $status"; }
  [ -e "$work/proxy/mnist_m_test_labels.txt" ] && fail "digitcnn-proxy wrote the proxy before finding --grid $grid a directory"
  rm -rf "$work/proxy"
done
"$bin/digitcnn-proxy" --data "$work/odd" --split test --out "$work/proxy" --grid "$work/grid.png" --grid-from 99 \
  >"$work/proxy.log" 2>&1
status=$?
[ "$status" -eq 2 ] || { cat "$work/proxy.log"; fail "digitcnn-proxy --grid-from past the images: status $status, not 2"; }
[ -n "$(ls -A "$work/proxy" 2>/dev/null | grep -vx '.lock')" ] && fail "digitcnn-proxy wrote into its --out before refusing --grid-from"
# the grid inside an --out that does not exist yet (docs/recipes.md's command on a fresh checkout)
"$bin/digitcnn-proxy" --data "$work/odd" --split test --out "$work/proxy" --grid "$work/proxy/grids/grid.png" \
  >"$work/proxy.log" 2>&1 || { cat "$work/proxy.log"; fail "digitcnn-proxy on 20x24 images"; }
[ -s "$work/proxy/mnist_m_test_labels.txt" ] && [ -s "$work/proxy/grids/grid.png" ] || fail "digitcnn-proxy wrote no proxy or grid"
# a --grid naming one of the proxy's or the data's own files once overwrote it (the labels with a PNG)
cp "$work/proxy/mnist_m_test_labels.txt" "$work/labels.before"
cp "$work/odd/mnist_m_test_labels.txt" "$work/data-labels.before"
for grid in "$work/proxy/mnist_m_test_labels.txt" "$work/proxy/mnist_m_test/00000000.png" "$work/proxy/.lock" \
            "$work/proxy/grids/../mnist_m_test_labels.txt" "$work/odd/mnist_m_test_labels.txt" "$work/odd/mnist_m_test/new.png"; do
  "$bin/digitcnn-proxy" --data "$work/odd" --split test --out "$work/proxy" --grid "$grid" >"$work/proxy.log" 2>&1
  status=$?
  [ "$status" -eq 1 ] && grep -q "would overwrite the proxy's or the data's own files" "$work/proxy.log" \
    || { cat "$work/proxy.log"; fail "digitcnn-proxy --grid $grid: status $status"; }
  cmp -s "$work/proxy/mnist_m_test_labels.txt" "$work/labels.before" || fail "digitcnn-proxy --grid $grid changed the proxy's labels"
  cmp -s "$work/odd/mnist_m_test_labels.txt" "$work/data-labels.before" || fail "digitcnn-proxy --grid $grid changed the data's labels"
  [ -e "$work/odd/mnist_m_test/new.png" ] && fail "digitcnn-proxy --grid $grid wrote among the data's images"
done
# --grid naming a model it evaluates once overwrote the model with the picture
cp "$work/paper/model.dcnn" "$work/evaluated.dcnn"
"$bin/digitcnn-proxy" --data "$work/odd" --split test --out "$work/proxy" --evaluate "$work/evaluated.dcnn" \
  --grid "$work/evaluated.dcnn" >"$work/proxy.log" 2>&1
status=$?
[ "$status" -eq 1 ] && grep -q "is the model .*evaluated.dcnn (--evaluate)" "$work/proxy.log" \
  || { cat "$work/proxy.log"; fail "digitcnn-proxy --grid over its --evaluate model: status $status"; }
cmp -s "$work/paper/model.dcnn" "$work/evaluated.dcnn" || fail "digitcnn-proxy --grid changed the model it evaluates"
# a smaller proxy over a larger one keeps none of the larger one's images
images=$(ls "$work/proxy/mnist_m_test" | wc -l)
[ "$images" -ge 2 ] || fail "the proxy has $images images; the test needs 2 or more"
"$bin/digitcnn-proxy" --data "$work/odd" --split test --out "$work/proxy" --limit 1 >"$work/proxy.log" 2>&1 ||
  { cat "$work/proxy.log"; fail "digitcnn-proxy --limit 1 over a larger proxy"; }
[ "$(ls "$work/proxy/mnist_m_test" | wc -l)" -eq 1 ] || fail "an earlier proxy's images were left: $(ls "$work/proxy/mnist_m_test")"
echo "ok: 20x24 images train in digitcnn-table1 and digitcnn-paper; gray test images under --rgb are refused first;" \
  "2x8200 test images get their report; a long --set keeps validation.txt whole; digitcnn-proxy checks before writing"
