#!/usr/bin/env bash
# Compiles every C++ source of a Windows build (CPU only, kernels linked in,
# no CPU dispatch: what CMakeLists.txt builds on win32-x64) for Windows with
# Debian's MinGW-w64 cross compiler, syntax and semantics only (-fsyntax-only:
# nothing is linked, as node.lib is not at hand). What this catches: a POSIX
# header or call (mmap, dlopen, unistd.h, ...) reached on the Windows path
# without a fallback. What it cannot: MSVC's own dialect; Windows builds use
# clang-cl (.github/workflows/prebuild.yml), which takes the GCC extensions
# the sources use behind their __GNUC__ / __clang__ guards.
#
#   bash scripts/windows-check.sh
#
# Needs g++-mingw-w64-x86-64-posix, libeigen3-dev and node_modules (for the
# Node-API headers). Exit status 1 when any source fails to compile.
set -euo pipefail
cd "$(dirname "$0")/.."

cxx=x86_64-w64-mingw32-g++-posix
command -v "$cxx" >/dev/null 2>&1 || cxx=x86_64-w64-mingw32-g++
command -v "$cxx" >/dev/null 2>&1 || {
  echo "windows-check: no MinGW-w64 compiler (apt-get install -y g++-mingw-w64-x86-64-posix)" >&2
  exit 1
}
napi=$(node -p "require('path').dirname(require.resolve('node-api-headers/package.json'))")/include
addon=$(node -p "require('path').dirname(require.resolve('node-addon-api/package.json'))")
eigen=${EIGEN3_INCLUDE_DIR:-/usr/include/eigen3}

sources=$(ls native/core/*.cpp native/ops/*.cpp native/cpu/*.cpp native/cpu/kernels/*.cpp native/napi/*.cpp)
flags=(-std=c++17 -fsyntax-only -Wall -Wextra -Wno-unused-parameter -Wno-psabi
  -DNAPI_VERSION=8 -DNODE_ADDON_API_DISABLE_DEPRECATED -DNAPI_CPP_EXCEPTIONS -DEIGEN_MPL2_ONLY
  -DNODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS -I"$napi" -I"$addon" -isystem "$eigen")
echo "windows-check: $($cxx --version | head -1), $(echo "$sources" | wc -l) sources"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
start=$SECONDS
# shellcheck disable=SC2086
if ! printf '%s\n' $sources | xargs -P "$(nproc)" -I{} sh -c '"$0" "$@" {} || { echo "FAILED: {}"; exit 255; }' "$cxx" "${flags[@]}" >"$log" 2>&1; then
  cat "$log" >&2
  echo "windows-check: some sources do not compile for Windows" >&2
  exit 1
fi
if grep -q "warning:" "$log"; then
  echo "windows-check: warnings:" >&2
  grep "warning:" "$log" >&2
fi
echo "windows-check: every source compiles for x86_64-w64-mingw32 ($((SECONDS - start)) s)"
