#!/usr/bin/env python3
"""Unpacks NVIDIA's CUDA 13 cuBLAS/cuSOLVER wheels (and the two libraries
cuSOLVER needs) into a folder, for checks on machines without a GPU:

  headers  nvidia/cu13/include/*.h    -> DEST/include  (the declaration check
                                          of native/cuda/libs_check.cpp)
  libs     nvidia/cu13/lib/lib*.so.*  -> DEST/lib      (the run-time loader's
                                          tests: test/45.cuda-libs.test.mjs)

    python3 tools/cuda-libs/extract.py DEST headers|libs|all [WHEEL_DIR]

WHEEL_DIR (default $ORTHO_NVIDIA_WHEELS, else /opt/pypi-more/files, a
folder of PyPI wheels on the CI image) must hold nvidia_cublas-13*,
nvidia_cusolver-12*, and for `libs` nvidia_cusparse-12* and
nvidia_nvjitlink-13* wheels. Prints one JSON line: the folder and the
wheels' versions. Exit status 3 when a wheel is missing (nothing written).
Nothing here ships with the package; the wheels are read, never installed.
"""
import glob
import json
import os
import sys
import zipfile

WHEELS = {
    "cublas": "nvidia_cublas-13.*.whl",
    "cusolver": "nvidia_cusolver-12.*.whl",
    "cusparse": "nvidia_cusparse-12.*.whl",
    "nvjitlink": "nvidia_nvjitlink-13.*.whl",
}
NEEDED = {"headers": ["cublas", "cusolver"], "libs": list(WHEELS), "all": list(WHEELS)}


def version_of(path):
    # nvidia_cublas-13.1.1.3-py3-none-... -> 13.1.1.3
    return os.path.basename(path).split("-")[1]


def main():
    if len(sys.argv) < 3 or sys.argv[2] not in NEEDED:
        print(__doc__, file=sys.stderr)
        return 2
    dest, what = os.path.abspath(sys.argv[1]), sys.argv[2]
    wheel_dir = sys.argv[3] if len(sys.argv) > 3 else os.environ.get("ORTHO_NVIDIA_WHEELS", "/opt/pypi-more/files")
    found = {}
    for name in NEEDED[what]:
        hits = sorted(glob.glob(os.path.join(wheel_dir, WHEELS[name])))
        if not hits:
            print(f"extract.py: no {WHEELS[name]} in {wheel_dir}", file=sys.stderr)
            return 3
        found[name] = hits[-1]
    for name, wheel in found.items():
        with zipfile.ZipFile(wheel) as z:
            for member in z.namelist():
                parts = member.split("/")
                if len(parts) != 4 or parts[:2] != ["nvidia", "cu13"]:
                    continue
                kind, base = parts[2], parts[3]
                if kind == "include" and what in ("headers", "all") and base.endswith(".h"):
                    sub = "include"
                elif kind == "lib" and what in ("libs", "all") and ".so." in base:
                    sub = "lib"
                else:
                    continue
                target = os.path.join(dest, sub, base)
                info = z.getinfo(member)
                if os.path.exists(target) and os.path.getsize(target) == info.file_size:
                    continue  # already unpacked by an earlier run
                os.makedirs(os.path.dirname(target), exist_ok=True)
                tmp = target + ".part"
                with z.open(member) as src, open(tmp, "wb") as out:
                    while True:
                        chunk = src.read(1 << 22)
                        if not chunk:
                            break
                        out.write(chunk)
                os.replace(tmp, target)
    print(json.dumps({"dir": dest, "versions": {k: version_of(v) for k, v in found.items()}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
