#!/bin/sh
# Installs the built project into a scratch prefix, then builds and runs a tiny
# consumer against it twice: with CMake's find_package and with pkg-config.
set -eu
build="$1"; consumer="$2"; work="$3"; cmake="$4"
rm -rf "$work"; mkdir -p "$work"
prefix="$work/prefix"
"$cmake" --install "$build" --prefix "$prefix" >"$work/install.log"
libdir=$(ls -d "$prefix"/lib*/pkgconfig | head -n 1 | xargs dirname)

echo "== find_package(digitcnn)"
"$cmake" -S "$consumer" -B "$work/cmake-build" -DCMAKE_PREFIX_PATH="$prefix" >"$work/configure.log"
"$cmake" --build "$work/cmake-build" >"$work/build.log"
LD_LIBRARY_PATH="$libdir" "$work/cmake-build/consumer"

echo "== pkg-config digitcnn"
export PKG_CONFIG_PATH="$libdir/pkgconfig"
cc -std=c11 -Wall -Wextra -Wpedantic -Werror "$consumer/main.c" -o "$work/consumer-pc" \
  $(pkg-config --cflags --libs digitcnn)
LD_LIBRARY_PATH="$libdir" "$work/consumer-pc"

echo "== pkg-config --static digitcnn"
cc -std=c11 "$consumer/main.c" -o "$work/consumer-static" -static-libgcc \
  $(pkg-config --cflags digitcnn) "$libdir/libdigitcnn.a" $(pkg-config --libs-only-l --static digitcnn | sed 's/-ldigitcnn//')
"$work/consumer-static"
echo "consumer builds passed"
