#!/bin/sh
# Builds the Debian packages with CPack, unpacks them into a clean directory
# tree with `dpkg -x` (no system install, no root needed) and checks them: the
# package names and dependencies, the pkg-config file (plain /usr paths on the
# multiarch libdir), a tool running from the tree, then the C and C++ consumers,
# shared and static, with CMake and pkg-config (consumers.sh).
#   deb.sh SOURCE WORK CMAKE [BUILD]
# BUILD is a tree configured with -DCMAKE_INSTALL_PREFIX=/usr to package; without
# it one is configured and built in WORK/build (library and tools, no tests).
# With MPI it checks that libdigitcnn-mpi<SOVERSION> holds the library alone and
# libdigitcnn-mpi-dev the files to build against it; and that cpack refuses a
# tree configured for /usr/local (CMake's default).
# Exits 77 (CTest: skipped) when dpkg-deb, dpkg-shlibdeps or file is missing.
set -eu
source_dir="$1"; work="$2"; cmake="$3"; build="${4:-}"
cpack="$(dirname "$cmake")/cpack"
for tool in dpkg-deb dpkg-shlibdeps file pkg-config readelf; do
  command -v $tool >/dev/null || { echo "SKIP: $tool is missing (Debian packages dpkg-dev, file, pkg-config, binutils)"; exit 77; }
done
rm -rf "$work"; mkdir -p "$work"
if [ -z "$build" ]; then
  build="$work/build"
  echo "== configuring and building $build (prefix /usr)"
  "$cmake" -S "$source_dir" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr \
    -DDCNN_BUILD_TESTS=OFF ${CC:+-DCMAKE_C_COMPILER="$CC"} ${CXX:+-DCMAKE_CXX_COMPILER="$CXX"} \
    >"$work/configure.log" 2>&1 || { cat "$work/configure.log"; exit 1; }
  "$cmake" --build "$build" -j "$(nproc)" >"$work/build.log" 2>&1 || { tail -n 50 "$work/build.log"; exit 1; }
elif ! grep -q '^CMAKE_INSTALL_PREFIX:PATH=/usr$' "$build/CMakeCache.txt"; then
  echo "$build is not configured with -DCMAKE_INSTALL_PREFIX=/usr"; exit 1
fi

echo "== cpack -G DEB refuses a tree configured for /usr/local (CMake's default prefix)"
"$cmake" -S "$source_dir" -B "$work/local" -DCMAKE_INSTALL_PREFIX=/usr/local -DDCNN_BUILD_TESTS=OFF >"$work/local.log" 2>&1 ||
  { cat "$work/local.log"; exit 1; }
if (cd "$work/local" && "$cpack" -G DEB >"$work/local-cpack.log" 2>&1); then
  echo "cpack packaged a /usr/local tree"; exit 1
fi
# CMake wraps the message's lines: joined, it reads as written
reason=$(tr -s ' \n' '  ' <"$work/local-cpack.log")
case "$reason" in
  *"installs into /usr/local, where Debian packages must not put files"*) echo "ok: cpack refused it with our reason" ;;
  *) cat "$work/local-cpack.log"; exit 1 ;;
esac

echo "== cpack -G DEB"
rm -f "$build"/*.deb
(cd "$build" && "$cpack" -G DEB >"$work/cpack.log" 2>&1) || { cat "$work/cpack.log"; exit 1; }
version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$build/CMakeCache.txt")
major=${version%%.*}; rest=${version#*.}; minor=${rest%%.*}
if [ "$major" = 0 ]; then soversion="$major.$minor"; else soversion="$major"; fi
runtime="libdigitcnn$soversion"
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
root="$work/root"; mkdir -p "$root"
packages="$runtime libdigitcnn-dev digitcnn-tools"
# built with DCNN_MPI: libdigitcnn_mpi's own package, which the tools need, and its -dev
mpi_package="libdigitcnn-mpi$soversion"
if ls "$build/${mpi_package}_${version}_"*.deb >/dev/null 2>&1; then packages="$packages $mpi_package libdigitcnn-mpi-dev"; fi
for package in $packages; do
  deb=$(ls "$build/${package}_${version}_"*.deb)
  echo "-- $(basename "$deb"): $(dpkg-deb -f "$deb" Depends)"
  echo "   $(dpkg-deb -c "$deb" | grep -vc '/$') files, $(dpkg-deb -c "$deb" | grep -c '/$') directories;" \
       "$(dpkg-deb -c "$deb" | grep -v '/$' | awk '{print $6}' | sed 's|^\./usr/||' |
          sed 's|^\(share/doc/[^/]*\)/.*|\1/|; s|^\(include/digitcnn\)/.*|\1/|; s|^\(bin\)/.*|\1/|' | sort -u | tr '\n' ' ')"
  dpkg-deb -c "$deb" | grep -q "\./usr/share/doc/$package/copyright" || { echo "$package has no copyright file"; exit 1; }
  dpkg -x "$deb" "$root"
done
dpkg-deb -f "$build/${runtime}_${version}_"*.deb Depends | grep -q libopenblas ||
  { echo "$runtime does not depend on OpenBLAS (dpkg-shlibdeps)"; exit 1; }
case " $packages " in
  *" $mpi_package "*)
    dpkg-deb -f "$build/${mpi_package}_${version}_"*.deb Depends | grep -q libopenmpi ||
      { echo "$mpi_package does not depend on Open MPI (dpkg-shlibdeps)"; exit 1; }
    dpkg-deb -f "$build/digitcnn-tools_${version}_"*.deb Depends | grep -q "$mpi_package" ||
      { echo "digitcnn-tools does not depend on $mpi_package"; exit 1; }
    # a library package holds the library alone (Debian policy 8.2); what compiling needs is in -dev
    mpi_files=$(dpkg-deb -c "$build/${mpi_package}_${version}_"*.deb | awk '{print $6}')
    ! printf '%s\n' "$mpi_files" | grep -E '\.so$|\.pc$|\.cmake$|\.h$' ||
      { echo "$mpi_package holds development files (above)"; exit 1; }
    dpkg-deb -c "$build/libdigitcnn-mpi-dev_${version}_"*.deb | grep -q '/include/digitcnn/mpi.h$' ||
      { echo "libdigitcnn-mpi-dev lacks digitcnn/mpi.h"; exit 1; }
    dpkg-deb -f "$build/libdigitcnn-mpi-dev_${version}_"*.deb Depends | grep -q "$mpi_package (= $version)" ||
      { echo "libdigitcnn-mpi-dev does not depend on $mpi_package"; exit 1; } ;;
esac
# digitcnn/mpi.h declares libdigitcnn_mpi's functions: never in the core -dev package
! dpkg-deb -c "$build/libdigitcnn-dev_${version}_"*.deb | grep '/include/digitcnn/mpi.h$' ||
  { echo "libdigitcnn-dev holds digitcnn/mpi.h"; exit 1; }
libdir="$root/usr/lib/$multiarch"
readelf -d "$libdir/libdigitcnn.so.$soversion" | grep -q "Library soname: \[libdigitcnn.so.$soversion\]" ||
  { echo "SONAME is not libdigitcnn.so.$soversion"; exit 1; }

echo "== the pkg-config file, as installed in /usr/lib/$multiarch/pkgconfig"
pc="$libdir/pkgconfig/digitcnn.pc"
sed -n '/^prefix=/,$p' "$pc"
grep -qx 'prefix=/usr' "$pc" && grep -qx "libdir=\${prefix}/lib/$multiarch" "$pc" &&
  grep -qx 'includedir=${prefix}/include' "$pc" || { echo "wrong paths in digitcnn.pc"; exit 1; }
# On the installed system the directories are the system ones, which pkg-config leaves out.
cflags=$(PKG_CONFIG_PATH="$libdir/pkgconfig" pkg-config --cflags digitcnn)
libs=$(PKG_CONFIG_PATH="$libdir/pkgconfig" pkg-config --libs digitcnn)
echo "pkg-config --cflags --libs digitcnn (as on the installed system): '$cflags' '$libs'"
for word in $cflags $libs; do
  case "$word" in
    -I/usr/include|-L/usr/lib/"$multiarch"|-I/usr/lib/*|-L/usr/lib/lib/*) echo "wrong or system path: $word"; exit 1;;
  esac
done

echo "== a tool from the unpacked tree"
LD_LIBRARY_PATH="$libdir" "$root/usr/bin/digitcnn-hello" --version

echo "== consumers against the unpacked tree"
sh "$source_dir/tests/install/consumers.sh" "$root/usr" "$source_dir/tests/install" "$work/consumers" "$cmake" "$root"
