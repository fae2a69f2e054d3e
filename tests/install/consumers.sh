#!/bin/sh
# Builds and runs the C consumer (consumer/) and the C++-only consumer
# (consumer-cxx/) against an installed libdigitcnn, each linked shared and
# static, each through CMake's find_package and through pkg-config (--static
# for the static link): eight programs. Shared ones must load libdigitcnn.so,
# static ones must not.
#   consumers.sh PREFIX SOURCES WORK CMAKE [SYSROOT]
# PREFIX is the installed prefix (e.g. ROOT/usr for a package unpacked into ROOT),
# SOURCES this directory, SYSROOT the root to give pkg-config when the .pc files
# name the final prefix (/usr) rather than where they were unpacked.
set -eu
prefix="$1"; sources="$2"; work="$3"; cmake="$4"; sysroot="${5:-}"
. "$sources/prefix.sh"
pcdir=$(pkgconfig_dir "$prefix")
[ -f "$pcdir/digitcnn.pc" ] || { echo "no digitcnn.pc under $prefix"; exit 1; }
libdir=$(dirname "$pcdir")
export PKG_CONFIG_PATH="$pcdir"
if [ -n "$sysroot" ]; then export PKG_CONFIG_SYSROOT_DIR="$sysroot"; fi
mkdir -p "$work"

# check NAME LINK BINARY: runs it, then checks how it links libdigitcnn.
check() {
  LD_LIBRARY_PATH="$libdir" "$3"
  if readelf -d "$3" | grep -q 'NEEDED.*libdigitcnn'; then needed=shared; else needed=static; fi
  [ "$needed" = "$2" ] || { echo "$1: expected a $2 link of libdigitcnn, got $needed"; exit 1; }
  echo "ok: $1 ($2 link)"
}

for lang in c cxx; do
  if [ $lang = c ]; then src="$sources/consumer"; main="$src/main.c"; cc=${CC:-cc}; std=-std=c11
  else src="$sources/consumer-cxx"; main="$src/main.cpp"; cc=${CXX:-c++}; std=-std=c++17; fi
  for link in shared static; do
    target=digitcnn; [ $link = static ] && target=digitcnn_static
    dir="$work/cmake-$lang-$link"
    "$cmake" -S "$src" -B "$dir" -DCMAKE_PREFIX_PATH="$prefix" -DDIGITCNN_TARGET=$target \
      >"$dir.configure.log" 2>&1 || { cat "$dir.configure.log"; exit 1; }
    "$cmake" --build "$dir" >"$dir.build.log" 2>&1 || { cat "$dir.build.log"; exit 1; }
    check "$lang, CMake find_package, digitcnn::$target" $link "$dir/consumer"

    bin="$work/pkg-config-$lang-$link"
    if [ $link = shared ]; then
      libs=$(pkg-config --libs digitcnn)
    else
      # -l:libdigitcnn.a: the archive from the same -L directory, not the .so
      libs=$(pkg-config --static --libs digitcnn | sed -e 's/-ldigitcnn /-l:libdigitcnn.a /' -e 's/-ldigitcnn$/-l:libdigitcnn.a/')
    fi
    # shellcheck disable=SC2046,SC2086
    $cc $std -Wall -Wextra -Wpedantic -Werror "$main" -o "$bin" $(pkg-config --cflags digitcnn) $libs
    check "$lang, pkg-config$([ $link = static ] && echo ' --static')" $link "$bin"
  done
done
# Only public names leave the archive, as the shared library: a program's own onnx__* (protobuf-c) or
# other names must not clash with the library's internals.
others=$(nm -g --defined-only "$libdir/libdigitcnn.a" | awk 'NF == 3 && $2 ~ /[A-Z]/ && $3 !~ /^(dcnn_|\.gomp_critical_user_)/ {print $3}')
[ -z "$others" ] || { echo "libdigitcnn.a exports names other than dcnn_*: $(echo "$others" | head -5 | tr '\n' ' ')"; exit 1; }
echo "consumer builds passed (C and C++, shared and static, CMake and pkg-config; only dcnn_* names)"
