# Shared set-up for the quick-start scripts: Debian packages, configure, build.
# Sourced, not run.

DCNN_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Set only by a script for one dcnn_build call (paper.sh), never taken from the caller's environment: an
# exported value made test.sh build a subset and CTest miss the test programs.
DCNN_BUILD_TARGETS=""

# Packages every build needs; callers may add more. libprotobuf-c-dev,
# protobuf-c-compiler and python3-onnx (for its onnx.proto) turn the optional
# ONNX component on (docs/onnx.md); libopenmpi-dev and openmpi-bin:
# libdigitcnn_mpi (DCNN_MPI) and its tests (label mpi, mpirun); python3-pip,
# -setuptools, -venv and -wheel: the Python binding's install and wheel tests.
DCNN_BASE_PACKAGES="build-essential dpkg-dev file cmake pkg-config libopenblas-dev zlib1g-dev libpng-dev libcmocka-dev locales doxygen python3 python3-numpy python3-pip python3-setuptools python3-venv python3-wheel libprotobuf-c-dev protobuf-c-compiler python3-onnx libopenmpi-dev openmpi-bin"

dcnn_log() { printf '\033[1m[digitcnn]\033[0m %s\n' "$*" >&2; }

# Installs the missing ones among the named Debian packages (as root, with apt-get).
dcnn_ensure_packages() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    dcnn_log "missing Debian packages: ${missing[*]}"
    dcnn_log "install them with: sudo apt-get install ${missing[*]}"
    return 1
  fi
  dcnn_log "installing Debian packages: ${missing[*]}"
  if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null | head -n 1)" ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
}

# Configures and builds into $1 with extra CMake arguments after it.
dcnn_build() {
  local dir="$1"; shift
  dcnn_log "configuring $dir"
  # Warnings are errors in every build the scripts make: the quick start's two commands share build/, and a
  # setting that differs between them rebuilt nearly every target.
  cmake -S "$DCNN_ROOT" -B "$dir" -DCMAKE_BUILD_TYPE=Release -DDCNN_WERROR=ON "$@" >"$dir/configure.log" 2>&1 \
    || { cat "$dir/configure.log"; return 1; }
  grep "libdigitcnn:" "$dir/configure.log" >&2 || true
  dcnn_log "building $dir"
  # DCNN_BUILD_TARGETS (space-separated) builds only those and what they need, e.g. the main job's program.
  # shellcheck disable=SC2086
  cmake --build "$dir" -j "$(nproc)" ${DCNN_BUILD_TARGETS:+--target $DCNN_BUILD_TARGETS}
}
