#!/usr/bin/env bash
# AddressSanitizer + UndefinedBehaviorSanitizer run (LeakSanitizer on): builds
# the addon and one CPU kernel library with -DORTHO_SANITIZE=ON (GCC) into
# build-sanitize/, then runs the numerical and error-path specs against it.
#
#   bash scripts/sanitize.sh [mocha spec files...]
#
# Needs what `npm ci` needs (cmake, g++, make, libeigen3-dev, node_modules)
# plus GCC's sanitizer runtimes, libasan8 and libubsan1, which Debian 12's
# g++ (gcc-12) already pulls in. Node is not built with ASan, so the ASan
# runtime is preloaded into it (LD_PRELOAD); child processes and worker
# threads inherit it. Leaks are checked at each process's exit, against the
# suppressions in scripts/sanitize.supp (each one justified there).
#
# The tests run from a staging copy (build-sanitize/pkg: index.mjs, dist/,
# test/, package.json, node_modules linked, build/ pointing at the sanitized
# build), because the loader takes build/Release of the package it belongs
# to. Exit status: mocha's, or the sanitizers' (ASan 1, LSan 23).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=$root/build-sanitize

asan=$(g++ -print-file-name=libasan.so)
if [ ! -e "$asan" ] || [ "$asan" = libasan.so ]; then
  echo "sanitize: GCC's libasan.so not found (install g++, which brings libasan8 and libubsan1)" >&2
  exit 1
fi

# One kernel level: the best this CPU runs, as CPUID tells the addon of
# build/ (npm ci built it); baseline when there is none.
level=$(node -p "require('./').backends().find((b) => b.name === 'cpu').cpuLevel" 2>/dev/null || echo baseline)
case "$level" in baseline | v2 | v3 | v4) ;; *) level=baseline ;; esac

[ -f dist/index.js ] || node_modules/.bin/tsc -p tsconfig.json
echo "sanitize: building the ASan + UBSan addon and kernel level $level into $out/cmake"
start=$SECONDS
mkdir -p "$out"
CC=gcc CXX=g++ node_modules/.bin/cmake-js compile -O "$out/cmake" \
  --CDORTHO_CUDA=OFF --CDORTHO_CPU_LEVELS="$level" --CDORTHO_SANITIZE=ON >"$out/build.log" 2>&1 \
  || { tail -50 "$out/build.log" >&2; echo "sanitize: build failed (full log: $out/build.log)" >&2; exit 1; }
echo "sanitize: built in $((SECONDS - start)) s"

pkg=$out/pkg
rm -rf "$pkg"
mkdir -p "$pkg"
cp -r index.mjs package.json dist test "$pkg/"
ln -s "$root/node_modules" "$pkg/node_modules"
ln -s "$out/cmake" "$pkg/build"

specs=("$@")
if ((${#specs[@]} == 0)); then
  specs=(test/10.tensor.test.mjs test/20.forward.test.mjs test/25.blocked.test.mjs test/30.backward.test.mjs
    test/35.fused.test.mjs test/50.errors.test.mjs test/55.lifecycle.test.mjs test/56.workers.test.mjs)
fi

# allocator_may_return_null: the out-of-memory specs ask for absurd sizes and
# expect ERR_ORTHO_OUT_OF_MEMORY, not ASan's abort. handle_segv=0: V8 handles
# SIGSEGV itself (WebAssembly bounds checks). detect_leaks: LeakSanitizer.
export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1:handle_segv=0:halt_on_error=1:strict_string_checks=1:detect_stack_use_after_return=0
export LSAN_OPTIONS=suppressions=$root/scripts/sanitize.supp:print_suppressions=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export ORTHO_SANITIZED=1
echo "sanitize: mocha ${specs[*]}"
start=$SECONDS
cd "$pkg"
status=0
LD_PRELOAD=$asan node node_modules/mocha/bin/mocha.js --no-config --timeout 900000 --reporter dot "${specs[@]}" || status=$?
echo "sanitize: specs ran in $((SECONDS - start)) s, exit status $status"
exit $status
