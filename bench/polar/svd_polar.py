#!/usr/bin/env python3
"""numpy's SVD polar factor U @ Vt, for bench/polar/run.mjs.

Usage:
  svd_polar.py time <batch> <m> <n> <float32|float64> <reps>
      times np.linalg.svd(x, full_matrices=False) then U @ Vt on a seeded
      Gaussian batch after one warm-up; prints {"min_s", "median_s", "times_s"}
  svd_polar.py polar <file> <batch> <m> <n>
      reads float64 matrices (raw, C order) from <file>, writes their polar
      factors, computed in float64, to <file>.out
  svd_polar.py make <gaussian|powerlaw|kappa1e4> <batch> <m> <n> <file>
      writes seeded float64 inputs with that spectrum (U diag(s) Vt, U and V
      from QR of Gaussians; Gaussian: the matrix itself)
  svd_polar.py compare <in> <out> <batch> <m> <n>
      residual ||Q^T Q - I||_F / sqrt(k) and distance ||Q - U Vt||_F / sqrt(k)
      (float64 SVD of the input), each the max over the batch, as JSON
  svd_polar.py versions
"""
import json
import sys
import time

import numpy as np


def polar(x):
    u, _, vt = np.linalg.svd(x, full_matrices=False)
    return u @ vt


def main(argv):
    if argv[0] == "versions":
        cfg = {}
        try:
            info = np.show_config(mode="dicts")
            cfg = info.get("Build Dependencies", {}).get("blas", {})
        except Exception:  # older numpy
            pass
        print(json.dumps({"numpy": np.__version__, "blas": cfg.get("name"), "blas_version": cfg.get("version")}))
        return
    if argv[0] == "time":
        batch, m, n = (int(v) for v in argv[1:4])
        dtype = np.float32 if argv[4] == "float32" else np.float64
        reps = int(argv[5])
        x = np.random.default_rng(0).standard_normal((batch, m, n)).astype(dtype)
        polar(x)  # warm-up
        times = []
        for _ in range(reps):
            t0 = time.perf_counter()
            q = polar(x)
            times.append(time.perf_counter() - t0)
        assert q.dtype == dtype
        print(json.dumps({"min_s": min(times), "median_s": float(np.median(times)), "times_s": times}))
        return
    if argv[0] == "polar":
        path = argv[1]
        batch, m, n = (int(v) for v in argv[2:5])
        x = np.fromfile(path, dtype=np.float64).reshape(batch, m, n)
        polar(x).astype(np.float64).tofile(path + ".out")
        return
    if argv[0] == "make":
        kind = argv[1]
        batch, m, n = (int(v) for v in argv[2:5])
        rng = np.random.default_rng(1)
        k = min(m, n)
        if kind == "gaussian":
            x = rng.standard_normal((batch, m, n))
        else:
            if kind == "powerlaw":
                s = 1.0 / np.arange(1, k + 1)
            elif kind == "kappa1e4":
                s = 1e4 ** (-np.arange(k) / (k - 1))
            else:
                raise SystemExit("unknown spectrum " + kind)
            u, _ = np.linalg.qr(rng.standard_normal((batch, m, k)))
            v, _ = np.linalg.qr(rng.standard_normal((batch, n, k)))
            x = (u * s) @ np.swapaxes(v, -1, -2)
        x.astype(np.float64).tofile(argv[5])
        return
    if argv[0] == "compare":
        batch, m, n = (int(v) for v in argv[3:6])
        x = np.fromfile(argv[1], dtype=np.float64).reshape(batch, m, n)
        q = np.fromfile(argv[2], dtype=np.float64).reshape(batch, m, n)
        k = min(m, n)
        g = np.swapaxes(q, -1, -2) @ q if m >= n else q @ np.swapaxes(q, -1, -2)
        res = np.linalg.norm(g - np.eye(k), axis=(-2, -1)) / np.sqrt(k)
        dist = np.linalg.norm(q - polar(x), axis=(-2, -1)) / np.sqrt(k)
        print(json.dumps({"residual": float(res.max()), "dist": float(dist.max())}))
        return
    raise SystemExit("unknown mode " + argv[0])


if __name__ == "__main__":
    main(sys.argv[1:])
