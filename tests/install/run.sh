#!/bin/sh
# Installs the built project into a scratch prefix, then builds and runs the C
# and C++ consumers against it, shared and static, with CMake's find_package
# and with pkg-config (consumers.sh), compiled as the library was and, when
# it is installed, by the other compiler family (gcc or clang).
# Also checks the SONAME (libdigitcnn.so.MAJOR.MINOR before 1.0, .MAJOR after)
# and that the package refuses versions with another ABI.
set -eu
build="$1"; consumer="$2"; work="$3"; cmake="$4"; version="$5" # MAJOR.MINOR.PATCH
major=${version%%.*}; rest=${version#*.}; minor=${rest%%.*}
rm -rf "$work"; mkdir -p "$work"
prefix="$work/prefix"
# The build tree's install manifest is the user's record of their own install: kept as it was,
# also when the scratch install fails.
manifest="$build/install_manifest.txt"
saved="$work.manifest"
rm -f "$saved"
[ -f "$manifest" ] && cp "$manifest" "$saved"
restore_manifest() { if [ -f "$saved" ]; then mv "$saved" "$manifest"; else rm -f "$manifest"; fi; }
"$cmake" --install "$build" --prefix "$prefix" >"$work/install.log" || { restore_manifest; cat "$work/install.log"; exit 1; }
restore_manifest
. "$(dirname "$consumer")/prefix.sh"
pcdir=$(pkgconfig_dir "$prefix")
[ -n "$pcdir" ] || { echo "FAIL: no pkgconfig directory under $prefix/lib*"; exit 1; }
libdir=$(dirname "$pcdir")

# Installed programs find the installed library by themselves (RUNPATH $ORIGIN/..), whatever
# the loader's cache holds.
if [ -x "$prefix/bin/digitcnn-hello" ]; then
  echo "== installed programs run without LD_LIBRARY_PATH"
  found=$(env -u LD_LIBRARY_PATH ldd "$prefix/bin/digitcnn-hello" | grep 'libdigitcnn\.so' || true)
  case "$found" in
    *"=> $prefix/"*) ;;
    *) echo "digitcnn-hello does not find the installed libdigitcnn: ${found:-not found}"; exit 1 ;;
  esac
  env -u LD_LIBRARY_PATH "$prefix/bin/digitcnn-hello" --version
fi

# pkg-config: the prefix is relative to the .pc file, so that a moved tree still works.
grep -q '^prefix=${pcfiledir}/' "$libdir/pkgconfig/digitcnn.pc" ||
  { echo "digitcnn.pc names an absolute prefix:"; grep '^prefix=' "$libdir/pkgconfig/digitcnn.pc"; exit 1; }
moved="$work/moved"
cp -a "$prefix" "$moved"
moved_libdir="$moved/${libdir#"$prefix"/}"
case "$(PKG_CONFIG_PATH="$moved_libdir/pkgconfig" pkg-config --cflags digitcnn)" in
  *"$moved/"*) echo "ok: a moved tree's pkg-config names the moved tree" ;;
  *) echo "pkg-config after a move: $(PKG_CONFIG_PATH="$moved_libdir/pkgconfig" pkg-config --cflags digitcnn)"; exit 1 ;;
esac
rm -rf "$moved"

if [ "$major" = 0 ]; then soname="libdigitcnn.so.$major.$minor"; else soname="libdigitcnn.so.$major"; fi
echo "== SONAME $soname"
readelf -d "$libdir/libdigitcnn.so" | grep -q "Library soname: \[$soname\]" ||
  { echo "SONAME is not $soname:"; readelf -d "$libdir/libdigitcnn.so" | grep SONAME; exit 1; }

echo "== find_package(digitcnn $major.$minor) accepted, other ABI versions refused"
if [ "$major" = 0 ]; then
  refused="0.$((minor + 1))"; [ "$minor" -gt 0 ] && refused="$refused 0.$((minor - 1))"
else
  refused="$((major + 1)).0"; [ "$major" -gt 1 ] && refused="$refused $((major - 1)).0"
fi
for other in $refused; do
  if "$cmake" -S "$consumer" -B "$work/refused-$other" -DCMAKE_PREFIX_PATH="$prefix" -DDIGITCNN_REQUEST="$other" \
       >"$work/refused-$other.log" 2>&1; then
    echo "find_package(digitcnn $other) accepted $version"; exit 1
  fi
  echo "find_package(digitcnn $other) refused, as it should"
done
"$cmake" -S "$consumer" -B "$work/accepted" -DCMAKE_PREFIX_PATH="$prefix" -DDIGITCNN_REQUEST="$major.$minor" \
  >"$work/accepted.log" 2>&1 || { cat "$work/accepted.log"; exit 1; }
echo "find_package(digitcnn $major.$minor) accepted"

echo "== find_package(digitcnn COMPONENTS mpi / onnx) as the library was built, or the reason"
for component in mpi onnx; do
  if [ $component = mpi ]; then
    ls "$libdir"/libdigitcnn_mpi.so >/dev/null 2>&1 && built=yes || built=no; why="built without libdigitcnn_mpi"
  else
    readelf -d "$libdir/libdigitcnn.so" | grep -q 'libprotobuf-c' && built=yes || built=no; why="built without ONNX"
  fi
  if "$cmake" -S "$consumer" -B "$work/component-$component" -DCMAKE_PREFIX_PATH="$prefix" \
       -DDIGITCNN_COMPONENTS=$component >"$work/component-$component.log" 2>&1; then found=yes; else found=no; fi
  [ $found = $built ] || { echo "COMPONENTS $component: found $found, built $built"; cat "$work/component-$component.log"; exit 1; }
  if [ $found = no ] && ! grep -q "$why" "$work/component-$component.log"; then
    echo "COMPONENTS $component refused without saying why:"; cat "$work/component-$component.log"; exit 1
  fi
  echo "COMPONENTS $component: found $found, as built"
done

# The consumers, compiled as the library was, then by the other compiler family when it is
# installed: a clang-built library calls libomp (__kmpc_*), which gcc's -fopenmp does not
# link, so the package links the building compiler's runtime. The compilers come from the
# build's cache (full paths, however CMake was given them), the family from the installed
# package, as consumers see it.
cached() { sed -n "s/^$1:[A-Z]*=//p" "$build/CMakeCache.txt" 2>/dev/null | head -n 1; }
cc=$(cached CMAKE_C_COMPILER); cxx=$(cached CMAKE_CXX_COMPILER)
built_by=$(sed -n 's/^set(_dcnn_omp_built_by "\(.*\)")$/\1/p' "$libdir/cmake/digitcnn/digitcnnConfig.cmake" 2>/dev/null |
  head -n 1)
[ -n "$cc" ] && [ -n "$cxx" ] ||
  { echo "FAIL: no CMAKE_C_COMPILER and CMAKE_CXX_COMPILER in $build/CMakeCache.txt"; exit 1; }
[ -n "$built_by" ] || { echo "FAIL: the installed digitcnnConfig.cmake names no compiler (_dcnn_omp_built_by)"; exit 1; }
consumers="$(dirname "$consumer")/consumers.sh"
echo "== consumers against the installed prefix ($cc and $cxx, as the library)"
CC="$cc" CXX="$cxx" sh "$consumers" "$prefix" "$(dirname "$consumer")" "$work/consumers" "$cmake"
case "$built_by" in
  GNU) other_cc=clang; other_cxx=clang++ ;;
  Clang) other_cc=gcc; other_cxx=g++ ;;
  *) other_cc=""; other_cxx="" ;;
esac
if [ -n "$other_cc" ] && command -v "$other_cc" >/dev/null && command -v "$other_cxx" >/dev/null; then
  echo "== consumers compiled by $other_cc and $other_cxx (the library by $built_by)"
  CC="$other_cc" CXX="$other_cxx" sh "$consumers" "$prefix" "$(dirname "$consumer")" "$work/consumers-other" "$cmake"
elif [ -n "$other_cc" ]; then
  echo "== no $other_cc and $other_cxx here: consumers from the other compiler family are not built"
else
  echo "== the library was built by $built_by: consumers from another family are not built"
fi

# libdigitcnn_mpi (built with DCNN_MPI): find_package(digitcnn COMPONENTS mpi)
# and pkg-config digitcnn-mpi, each run as a one-process job.
mpi_src="$(dirname "$consumer")/consumer-mpi"
if ls "$libdir"/libdigitcnn_mpi.so >/dev/null 2>&1; then
  echo "== libdigitcnn_mpi consumers"
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  "$cmake" -S "$mpi_src" -B "$work/mpi-cmake" -DCMAKE_C_COMPILER="$cc" -DCMAKE_PREFIX_PATH="$prefix" \
    >"$work/mpi-cmake.log" 2>&1 &&
    "$cmake" --build "$work/mpi-cmake" >>"$work/mpi-cmake.log" 2>&1 || { cat "$work/mpi-cmake.log"; exit 1; }
  LD_LIBRARY_PATH="$libdir" "$work/mpi-cmake/consumer-mpi"
  echo "ok: C, CMake find_package(digitcnn COMPONENTS mpi), digitcnn::mpi"
  # shellcheck disable=SC2046
  PKG_CONFIG_PATH="$libdir/pkgconfig" "$cc" -std=c11 -Wall -Wextra -Wpedantic -Werror "$mpi_src/main.c" \
    -o "$work/mpi-pkg-config" $(PKG_CONFIG_PATH="$libdir/pkgconfig" pkg-config --cflags --libs digitcnn-mpi)
  LD_LIBRARY_PATH="$libdir" "$work/mpi-pkg-config"
  echo "ok: C, pkg-config digitcnn-mpi"
else
  echo "== no libdigitcnn_mpi installed (configured without DCNN_MPI): its consumers are not built"
  # its header would declare functions no installed library defines
  [ ! -e "$prefix/include/digitcnn/mpi.h" ] || { echo "digitcnn/mpi.h is installed without libdigitcnn_mpi"; exit 1; }
  echo "ok: nor is digitcnn/mpi.h"
fi
