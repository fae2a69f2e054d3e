#!/bin/sh
# Fails if the shared library exports a defined symbol without the dcnn_ prefix.
set -eu
lib="$1"
symbols=$(nm -D --defined-only "$lib" | awk 'NF >= 3 {print $3}')
count=$(printf '%s\n' "$symbols" | grep -c '^dcnn_' || true)
bad=$(printf '%s\n' "$symbols" | grep -v '^dcnn_' | grep -v '^DIGITCNN_' | grep -v '^$' || true)
if [ -n "$bad" ]; then
  echo "symbols exported without the dcnn_ prefix:"; printf '%s\n' "$bad"; exit 1
fi
if [ "$count" -lt 10 ]; then echo "only $count dcnn_ symbols exported: is the export macro broken?"; exit 1; fi
echo "$count exported symbols, all dcnn_-prefixed"
