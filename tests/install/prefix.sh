# Sourced by run.sh and consumers.sh: where an installed prefix keeps its pkg-config files.
# pkgconfig_dir PREFIX prints PREFIX/lib*/pkgconfig or, for a multiarch install,
# PREFIX/lib/<triplet>/pkgconfig (the first that exists), or nothing.
pkgconfig_dir() {
  ls -d "$1"/lib*/pkgconfig "$1"/lib/*/pkgconfig 2>/dev/null | head -n 1
}
