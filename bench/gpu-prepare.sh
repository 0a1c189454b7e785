#!/usr/bin/env bash
# Prepares, on a machine with nvcc but without a GPU (or without network on
# the GPU machine), everything one run of bench/gpu-check.sh needs on a GPU
# machine that has no network and no Node.js:
#   - .device/node.xz: this machine's node binary, compressed;
#   - .device/eigen3.tar.xz: the Eigen headers (for a rebuild there);
#   - .device/setup.sh: sourced there, it unpacks both under /tmp, puts them
#     on the paths and adds the folders holding the machine's cuBLAS and
#     cuSOLVER (its CUDA toolkit's or its PyTorch's) to LD_LIBRARY_PATH;
#   - .device/nm/node_modules: only what runs there (node-gyp-build, mocha,
#     chai, and cmake-js + node-addon-api for a rebuild), which keeps the
#     bundle small (the full node_modules holds TypeScript and TypeDoc);
#   - build/Release/ compiled here with nvcc (CUDA on), so the GPU machine
#     spends no time compiling; dist/ and examples/build/.
# .device/ is git-ignored. Then copy the working tree with .device,
# build/Release, dist and examples/build to the GPU machine and run there:
#   ln -sfn .device/nm/node_modules node_modules && source .device/setup.sh && ORTHO_PREBUILT=1 bash bench/gpu-check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .device

node_bin=$(readlink -f "$(command -v node)")
if [ ! -s .device/node.xz ] || [ "$node_bin" -nt .device/node.xz ]; then
  echo "compressing $node_bin"
  xz -T0 -6 -c "$node_bin" > .device/node.xz
fi
if [ ! -s .device/eigen3.tar.xz ]; then
  [ -d /usr/include/eigen3 ] || { echo "gpu-prepare: Eigen headers missing: apt-get install -y libeigen3-dev" >&2; exit 1; }
  tar -C / -cJf .device/eigen3.tar.xz usr/include/eigen3 usr/share/eigen3
fi
cat > .device/setup.sh <<'SETUP'
# Sourced on the GPU machine from the project root (written by bench/gpu-prepare.sh).
set -e
mkdir -p /tmp/orthogonium-node/bin
[ -x /tmp/orthogonium-node/bin/node ] || { xz -dc .device/node.xz > /tmp/orthogonium-node/bin/node; chmod +x /tmp/orthogonium-node/bin/node; }
[ -d /tmp/orthogonium-eigen/usr/include/eigen3 ] || { mkdir -p /tmp/orthogonium-eigen; tar -C /tmp/orthogonium-eigen -xJf .device/eigen3.tar.xz; }
export PATH=/tmp/orthogonium-node/bin:$PATH
export CPATH=/tmp/orthogonium-eigen/usr/include/eigen3${CPATH:+:$CPATH}
export Eigen3_DIR=/tmp/orthogonium-eigen/usr/share/eigen3/cmake
export EIGEN3_INCLUDE_DIR=/tmp/orthogonium-eigen/usr/include/eigen3
# cuBLAS / cuSOLVER shipped with the machine's CUDA toolkit or its PyTorch
for d in $(find / -xdev \( -name 'libcublas.so.*' -o -name 'libcusolver.so.*' \) -printf '%h\n' 2>/dev/null | sort -u); do
  LD_LIBRARY_PATH=$d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
done
export LD_LIBRARY_PATH
node --version; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
set +e
SETUP

if [ ! -d .device/nm/node_modules ]; then
  mkdir -p .device/nm
  (cd .device/nm && npm init -y >/dev/null &&
    npm install --no-audit --no-fund --no-package-lock \
      node-gyp-build@4 node-addon-api@8 mocha@11 chai@6 cmake-js@8 >/dev/null)
fi
npx cmake-js compile --CDORTHO_CUDA=ON
npx tsc -p . && npx tsc -p examples
du -sh .device/node.xz .device/eigen3.tar.xz .device/nm build/Release dist examples/build
