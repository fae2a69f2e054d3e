#!/usr/bin/env bash
# Puts MNIST-M (official layout) in DEST/mnist_m (default: data/ in the
# checkout), verified, idempotently. Sources, in order:
#   1. DIGITCNN_DATA_MIRROR: a directory holding mnist_m.tar.gz (or mnist_m/), or the archive itself;
#   2. ../shared/data beside the checkout (CI and development machines);
#   3. the official archive (Ganin & Lempitsky), downloaded and checked against its published MD5.
# Nothing else is downloaded, and nothing is downloaded at test time.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEST=${1:-${DIGITCNN_DATA_DIR:-$ROOT/data}}
OFFICIAL_URL=${DIGITCNN_MNIST_M_URL:-https://cornell.box.com/shared/static/jado7quprg6hzzdubvwzh9umr75damwi}
OFFICIAL_MD5=859df31c91afe82e80e5012ba928f279
# Label files are the same in every faithful copy of the archive.
TRAIN_LABELS_SHA256=9e1059c2131453bb9638eeea3bbf46dc552358086f3666c038b4047aaf0a6b68
TEST_LABELS_SHA256=2e8124bc2a92b483930141f677e09cb1c5a3fe99504e05fe59877d92766d7d61

log() { printf '[get-data] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Whether DIR/mnist_m is complete: label checksums and image counts.
complete() {
  local d="$1/mnist_m"
  [ -f "$d/mnist_m_train_labels.txt" ] && [ -f "$d/mnist_m_test_labels.txt" ] || return 1
  echo "$TRAIN_LABELS_SHA256  $d/mnist_m_train_labels.txt" | sha256sum --quiet -c - 2>/dev/null || return 1
  echo "$TEST_LABELS_SHA256  $d/mnist_m_test_labels.txt" | sha256sum --quiet -c - 2>/dev/null || return 1
  [ "$(find "$d/mnist_m_train" -name '*.png' | wc -l)" -eq 59001 ] || return 1
  [ "$(find "$d/mnist_m_test" -name '*.png' | wc -l)" -eq 9001 ] || return 1
}

if complete "$DEST"; then
  log "MNIST-M is already in $DEST/mnist_m"
  echo "$DEST/mnist_m"
  exit 0
fi

mkdir -p "$DEST"
work=$(mktemp -d "$DEST/.get-data.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Verifies an archive: against the mnist_m.tar.gz line of a SHA256SUMS beside it if there is one, else the
# official MD5. The archive itself is hashed, whatever its name (a mirror may name another file).
verify_archive() {
  local archive="$1" sums expected
  sums="$(dirname "$archive")/SHA256SUMS"
  expected=""
  [ -f "$sums" ] && expected="$(awk '$2 == "mnist_m.tar.gz" || $2 == "*mnist_m.tar.gz" { print $1; exit }' "$sums")"
  if [ -n "$expected" ]; then
    echo "$expected  $archive" | sha256sum --quiet -c - || die "$archive does not match $sums"
    log "checksum ok ($sums)"
  else
    echo "$OFFICIAL_MD5  $archive" | md5sum --quiet -c - || die "$archive does not match the official MD5 $OFFICIAL_MD5"
    log "checksum ok (official MD5)"
  fi
}

archive=""
mirror="${DIGITCNN_DATA_MIRROR:-}"
if [ -z "$mirror" ] && [ -f "$ROOT/../shared/data/mnist_m.tar.gz" ]; then mirror="$ROOT/../shared/data"; fi
if [ -n "$mirror" ]; then
  if [ -d "$mirror" ] && complete "$mirror"; then
    log "copying from the mirror directory $mirror"
    cp -r "$mirror/mnist_m" "$work/"
  elif [ -f "$mirror" ]; then
    archive="$mirror"
  elif [ -f "$mirror/mnist_m.tar.gz" ]; then
    archive="$mirror/mnist_m.tar.gz"
  else
    die "DIGITCNN_DATA_MIRROR=$mirror holds neither mnist_m.tar.gz nor a complete mnist_m/"
  fi
  [ -n "$archive" ] && log "using the mirror archive $archive"
else
  command -v curl >/dev/null || die "curl is needed to download MNIST-M (or set DIGITCNN_DATA_MIRROR)"
  log "downloading the official MNIST-M archive"
  curl -fL --retry 3 -o "$work/mnist_m.tar.gz" "$OFFICIAL_URL" || die "download failed (set DIGITCNN_DATA_MIRROR to a local copy)"
  archive="$work/mnist_m.tar.gz"
fi
if [ -n "$archive" ]; then
  verify_archive "$archive"
  log "extracting"
  tar -xzf "$archive" -C "$work" mnist_m || die "cannot extract $archive"
fi
complete "$work" || die "the extracted data is incomplete or its label files do not match"
rm -rf "$DEST/mnist_m"
mv "$work/mnist_m" "$DEST/mnist_m"
log "MNIST-M ready in $DEST/mnist_m"
echo "$DEST/mnist_m"
