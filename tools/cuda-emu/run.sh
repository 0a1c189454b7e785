#!/usr/bin/env bash
# Runs the CUDA test file(s) against the CUDA backend emulated on the CPU:
# the .cu kernels compiled by g++ (launches turned into calls, CUDA threads
# run as fibers with real __syncthreads and warp shuffles), a fake CUDA
# runtime on host memory (unwritten memory reads as NaN), and fake
# libcublas.so.13 / libcusolver.so.12 (naive column-major BLAS/LAPACK with
# the argument checks of the real ones) found through ORTHO_CUDA_LIB_DIR.
# It checks the plumbing (indexing, layouts, pointer arrays, workspaces,
# loader, error paths), not the real libraries, timing or streams.
#   bash tools/cuda-emu/run.sh [mocha args...]    (ORTHO_FUSED=0 works too)
# Needs g++, python3, Eigen, the CUDA toolkit's library_types.h, git, npm
# install and npx tsc -p . done (test/70 needs examples/build, copied when
# it exists). Builds into $ORTHO_EMU_DIR (default /tmp/orthogonium-cuda-emu; about
# 5 minutes on 2 cores).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE=$ROOT/tools/cuda-emu
B=${ORTHO_EMU_DIR:-${TMPDIR:-/tmp}/orthogonium-cuda-emu}  # outside build/, which may be carried to a GPU machine
mkdir -p "$B/include" "$B/obj" "$B/libs" "$B/pkg/build/Release" "$B/pkg/test"
cp "$HERE"/include/*.h "$B/include/"
cp "${CUDA_HOME:-/usr/local/cuda}/include/library_types.h" "$B/include/"
EIGEN=${EIGEN3_INCLUDE_DIR:-/usr/include/eigen3}

# Fake libraries (the loader's CUDA 13 set).
if [ ! -f "$B/libs/libcusolver.so.12" ] || [ "$HERE/fake_libs.cpp" -nt "$B/libs/libcusolver.so.12" ]; then
  g++ -O2 -shared -fPIC -DFAKE_CUBLAS -I"$EIGEN" "$HERE/fake_libs.cpp" -o "$B/libs/libcublas.so.13" -Wl,-soname,libcublas.so.13
  g++ -O2 -shared -fPIC -DFAKE_CUSOLVER -I"$EIGEN" "$HERE/fake_libs.cpp" -o "$B/libs/libcusolver.so.12" -Wl,-soname,libcusolver.so.12
  echo 'int ortho_emu_empty(void) { return 0; }' > "$B/empty.c"
  for l in libcublasLt.so.13 libnvJitLink.so.13 libcusparse.so.12; do gcc -shared -fPIC -o "$B/libs/$l" -Wl,-soname,$l "$B/empty.c"; done
fi

# The addon, rebuilt whole when anything under native/ or here changed.
if [ ! -f "$B/stamp" ] || [ -n "$(find "$ROOT/native" "$HERE" -newer "$B/stamp" -type f | head -1)" ]; then
  rm -rf "$B/tree" "$B/obj"/*.o
  mkdir -p "$B/tree" && cp -a "$ROOT/native" "$B/tree/"
  python3 "$HERE/transform.py" "$B/tree/native/cuda/"*.cu
  NM=$ROOT/node_modules
  FLAGS="-std=c++17 -O1 -fPIC -DORTHO_WITH_CUDA=1 -DNAPI_VERSION=8 -DNODE_ADDON_API_DISABLE_DEPRECATED -DNAPI_CPP_EXCEPTIONS -DEIGEN_MPL2_ONLY -DNODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS -I$B/include -I$NM/node-api-headers/include -I$NM/node-addon-api -I$EIGEN -Wno-unknown-pragmas"
  pids=()
  for f in "$B"/tree/native/{core,ops,cpu,cpu/kernels,napi,cuda}/*.cpp; do  # the CPU kernels linked in (no CPU dispatch)
    case "$f" in *no_cuda.cpp | *libs_check.cpp) continue ;; esac
    extra=""
    case "$f" in *.cu.cpp) extra="-D__CUDACC__ -include cuda_runtime.h" ;; esac
    g++ $FLAGS $extra -c "$f" -o "$B/obj/$(basename "$(dirname "$f")")_$(basename "$f").o" &
    pids+=($!)
    if [ ${#pids[@]} -ge "$(nproc)" ]; then wait "${pids[0]}"; pids=("${pids[@]:1}"); fi
  done
  for p in "${pids[@]}"; do wait "$p"; done
  g++ $FLAGS -c "$HERE/emu_runtime.cpp" -o "$B/obj/emu_runtime.o"
  g++ -shared -o "$B/pkg/build/Release/orthogonium.node" "$B"/obj/*.o -ldl -lpthread
  touch "$B/stamp"
fi

# A package folder that loads the emulated addon: the tracked files but the
# native sources (the whole suite reads bin/, scripts/, examples/, bench/,
# lib/ and docs), the compiled TypeScript and example, node_modules linked.
find "$B/pkg" -mindepth 1 -maxdepth 1 ! -name build ! -name node_modules -exec rm -rf {} +
(cd "$ROOT" && git ls-files -z | grep -zv '^native/' | xargs -0 cp -P --parents -t "$B/pkg/")
cp -r "$ROOT/dist" "$B/pkg/dist"
[ -d "$ROOT/examples/build" ] && cp -r "$ROOT/examples/build" "$B/pkg/examples/build"
ln -sfn "$ROOT/node_modules" "$B/pkg/node_modules"
cd "$B/pkg"
ORTHO_CUDA_LIB_DIR="$B/libs" ORTHO_TEST_DEVICE=${ORTHO_TEST_DEVICE:-cuda} npx mocha --no-config --timeout 600000 "${@:-test/40.cuda.test.mjs}"
