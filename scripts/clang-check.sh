#!/usr/bin/env bash
# The addon built with clang and libc++ instead of GCC and libstdc++ (the
# toolchain of a macOS build: Apple's clang and libc++), then the suite run
# against that build.
#
#   bash scripts/clang-check.sh [mocha spec files...]
#
# Needs what `npm ci` needs plus Debian's clang, libc++-dev and libc++abi-dev.
# The package's tracked files and dist/ are copied to build-clang/pkg
# (node_modules linked), because the loader takes build/Release of the
# package it belongs to; the addon and its CPU kernels are built there with
# clang++ -stdlib=libc++ (CPU only: nvcc is not given clang as
# its host compiler here). The script checks that the binaries link libc++
# and not libstdc++ before it runs mocha. Exit status: mocha's.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=$root/build-clang

die() {
  echo "clang-check: $*" >&2
  exit 1
}
command -v clang++ >/dev/null 2>&1 || die "clang++ not found (apt-get install -y clang libc++-dev libc++abi-dev)"
echo '#include <vector>
int main() { return std::vector<int>(1).size() == 1 ? 0 : 1; }' >"${TMPDIR:-/tmp}/orthogonium-libcxx.cpp"
clang++ -stdlib=libc++ -o "${TMPDIR:-/tmp}/orthogonium-libcxx" "${TMPDIR:-/tmp}/orthogonium-libcxx.cpp" 2>/dev/null \
  || die "clang++ -stdlib=libc++ cannot build a program (apt-get install -y libc++-dev libc++abi-dev)"

[ -f dist/index.js ] || node_modules/.bin/tsc -p tsconfig.json
pkg=$out/pkg
# Sources afresh; build/ is kept (tar keeps modification times, so a rerun
# recompiles only what changed).
mkdir -p "$pkg"
find "$pkg" -mindepth 1 -maxdepth 1 ! -name build -exec rm -rf {} +
git ls-files -z | grep -zv '^prebuilds/' | tar --null -cf - -T - | tar -xf - -C "$pkg"
cp -r dist "$pkg/"
[ ! -d examples/build ] || cp -r examples/build "$pkg/examples/"
ln -s "$root/node_modules" "$pkg/node_modules"

echo "clang-check: $(clang++ --version | head -1), libc++; building into $pkg/build"
start=$SECONDS
libcxx=-stdlib=libc++
# The compile flag goes in CMAKE_CXX_FLAGS_RELEASE: cmake-js sets
# CMAKE_CXX_FLAGS itself, after (and over) any given on its command line.
# One kernel level, the best this CPU runs (CPUID, asked of the addon npm ci
# built), or the levels in ORTHO_CPU_LEVELS: the toolchain is what this
# proves, and each further level costs CI a few minutes of compiling (the
# levels themselves are built with g++ and run by the suite and test/05).
best=$(node -p "require('./').backends().find((b) => b.name === 'cpu').cpuLevel" 2>/dev/null || echo baseline)
case "$best" in baseline | v2 | v3 | v4) levels=$best ;; *) levels=baseline ;; esac
levels=${ORTHO_CPU_LEVELS:-$levels}
echo "clang-check: kernel levels $levels"
(cd "$pkg" && CC=clang CXX=clang++ node_modules/.bin/cmake-js build --CDORTHO_CUDA=OFF --CDORTHO_CPU_LEVELS="$levels" \
  --CDCMAKE_CXX_FLAGS_RELEASE="-O3 -DNDEBUG $libcxx" \
  --CDCMAKE_SHARED_LINKER_FLAGS="$libcxx" --CDCMAKE_MODULE_LINKER_FLAGS="$libcxx" \
  >"$out/build.log" 2>&1) || { tail -50 "$out/build.log" >&2; die "build failed (full log: $out/build.log)"; }
echo "clang-check: built in $((SECONDS - start)) s"
if grep -E "warning:" "$out/build.log" | grep -v "^ninja" >"$out/warnings.txt"; then
  echo "clang-check: $(wc -l <"$out/warnings.txt") compiler warnings (in $out/warnings.txt):" >&2
  head -20 "$out/warnings.txt" >&2
fi

# No binary may need libstdc++, nor leave a libstdc++ symbol (std::__cxx11)
# for Node's own libstdc++ to resolve; the addon must need libc++ (std::__1).
for f in "$pkg"/build/Release/*.node "$pkg"/build/Release/*.so; do
  [ -e "$f" ] || continue
  needed=$(readelf -d "$f" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p' | tr '\n' ' ')
  case "$needed" in
    *libstdc++*) die "$(basename "$f") links libstdc++: $needed" ;;
  esac
  undefined=$(nm -D --undefined-only "$f")
  if grep -q '__cxx11' <<<"$undefined"; then
    die "$(basename "$f") was compiled against libstdc++'s headers: $(grep -m3 __cxx11 <<<"$undefined" | tr '\n' ' ')"
  fi
  echo "clang-check: $(basename "$f") needs $needed"
done
addon="$pkg"/build/Release/orthogonium.node
# (Here-strings, not pipes into grep -q: with pipefail, the writer killed
# by SIGPIPE when grep stops early would fail the test.)
grep -q 'Shared library: \[libc++' <<<"$(readelf -d "$addon")" || die "the addon does not link libc++"
grep -q '_ZNSt3__1' <<<"$(nm -D --undefined-only "$addon")" || die "the addon uses no libc++ symbol (std::__1)"

cd "$pkg"
node -e "const c = require('./').backends()[0]; console.log('clang-check: CPU kernels', c.level, 'of', c.levels.join(' '))"
echo "clang-check: mocha ${*:-(the whole suite)}"
if (($#)); then
  node node_modules/mocha/bin/mocha.js --no-config --timeout 600000 --reporter dot "$@"
else
  node node_modules/mocha/bin/mocha.js --reporter dot
fi
