#!/usr/bin/env bash
# Prepares, on a development machine without a GPU, everything one device
# run of bench/gpu-check.sh needs (see ../shared/tools/gpu-check.md):
#   - .device/ from the shared device-bundle.sh (node binary, Eigen headers,
#     setup.sh);
#   - .device/nm/node_modules: only what runs there (node-gyp-build, mocha,
#     chai, and cmake-js + node-addon-api for a rebuild), because the full
#     node_modules (TypeScript) and the node binary exceed the 64 MiB a run
#     may carry;
#   - build/Release/orthogonium.node compiled here with nvcc (CUDA on), so
#     the device spends no minutes compiling; dist/ and examples/build/.
# Then run there, carrying [".device", "build/Release", "dist", "examples/build"]:
#   ln -sfn .device/nm/node_modules node_modules && source .device/setup.sh && ORTHO_PREBUILT=1 bash bench/gpu-check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash ../shared/tools/device-bundle.sh
if [ ! -d .device/nm/node_modules ]; then
  mkdir -p .device/nm
  (cd .device/nm && npm init -y >/dev/null &&
    npm install --no-audit --no-fund --no-package-lock \
      node-gyp-build@4 node-addon-api@8 mocha@11 chai@6 cmake-js@8 >/dev/null)
fi
npx cmake-js compile --CDORTHO_CUDA=ON
npx tsc -p . && npx tsc -p examples
du -sh .device/node.xz .device/eigen3.tar.xz .device/nm build/Release dist examples/build
