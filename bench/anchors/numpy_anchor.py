#!/usr/bin/env python3
"""numpy anchor for bench/: the same algorithms as native/ops, in numpy.

Usage: python3 numpy_anchor.py '<trial json>'   (one trial per process)
       python3 numpy_anchor.py --versions       (library versions, JSON)

The trial JSON is what bench/run.mjs hands every child (see bench/trials.mjs):
{ op, pass, shape, dtype, spec, timing }. Prints one JSON line:
{ ok, median_s, times_s, maxrss_kb, variant } or { ok: false, skipped|error }.

Same iteration counts and formulas as the native ops:
- power iteration: v = l2n(X^T u), u = l2n(X v) per iteration (warm state
  kept across calls, as the native module), y = X / (u^T X v + eps)
- Bjorck: w = (1 + b) w - b * (w @ (w^T @ w)) (m >= n) or
  (1 + b) w - b * ((w @ w^T) @ w) (m < n); numpy's matmul uses syrk for the
  w^T @ w product of one buffer with itself
- Cholesky: L = cholesky(X X^T + 1e-5 I), W = L^-1 X by a triangular solve:
  scipy.linalg.solve_triangular when scipy is present, else np.linalg.solve
  on the triangular factor; when both exist the faster one (timed during
  warm-up) is used and reported as `variant`
- exponential: pad to D x D, A = (P - P^T) / 2, Horner as the native op:
  H = I + A / (K - 1), then H = I + (A @ H) / j for j = K-2 .. 1; crop
- QR: np.linalg.qr (LAPACK geqrf + orgqr), columns times sign(diag R),
  wide inputs through the transpose
- backward (default, pass-through, Cholesky presets): the VJP formulas of
  native/ops/bjorck.cpp, cholesky.cpp and power_iteration.cpp; a recorded
  Bjorck step keeps its M = (1 + b) I - b Gram(w) from the forward and the
  backward reuses it (three products per step; native keeps it past its
  small-matrix kernels and recomputes it within them), so numpy runs the
  cheaper of the two everywhere
"""
import json
import resource
import sys
import time

try:
    import numpy as np
except ImportError:  # the runner checks first; this keeps the message short
    print(json.dumps({"ok": False, "skipped": "numpy is not installed"}))
    sys.exit(0)

try:
    import scipy.linalg as sla
except ImportError:
    sla = None


def l2n(v):
    return v / (np.sqrt(np.sum(v * v, axis=-2, keepdims=True)) + 1e-8)


def eye(dtype, k):
    return np.eye(k, dtype=dtype)


# --- one factory per op: (x, spec, dtype) -> (state, fn) ---------------------


class PowerIteration:
    def __init__(self, x, niter, eps, rng):
        b, m, n = x.shape
        self.niter, self.eps = niter, eps
        self.u = l2n(rng.standard_normal((b, m, 1))).astype(x.dtype)
        self.v = l2n(rng.standard_normal((b, n, 1))).astype(x.dtype)
        self.saved = None

    def forward(self, x, record=False):
        u, v = self.u, self.v
        for _ in range(self.niter):
            v = l2n(x.mT @ u)
            u = l2n(x @ v)
        s = u.mT @ (x @ v)  # [b, 1, 1]
        c = 1.0 / (s + self.eps)
        self.u, self.v = u, v
        if record:
            self.saved = (x, u, v, c)
        return x * c

    def backward(self, g):
        x, u, v, c = self.saved
        c2 = -np.sum(g * x, axis=(-2, -1), keepdims=True) * c * c
        return c * g + c2 * (u @ v.mT)


def bjorck_step(w, beta):
    if w.shape[-2] >= w.shape[-1]:
        p = w @ (w.mT @ w)
    else:
        p = (w @ w.mT) @ w
    w = w * (1 + beta)
    p *= beta
    w -= p
    return w


def bjorck_folded_gram(w, beta):
    k = min(w.shape[-2], w.shape[-1])
    gram = w.mT @ w if w.shape[-2] >= w.shape[-1] else w @ w.mT
    return (1 + beta) * eye(w.dtype, k) - beta * gram


def bjorck_recorded_step(w, beta):
    """A recorded step: the same step through its folded Gram m, kept for the backward."""
    m = bjorck_folded_gram(w, beta)
    return (w @ m if w.shape[-2] >= w.shape[-1] else m @ w), m


def bjorck_step_backward(w, m, g, beta):
    if w.shape[-2] >= w.shape[-1]:
        s = g.mT @ w
        return g @ m - beta * (w @ (s + s.mT))
    s = g @ w.mT
    return m @ g - beta * ((s + s.mT) @ w)


class Bjorck:
    def __init__(self, beta, niters, pass_through):
        self.beta, self.niters, self.pass_through = beta, niters, pass_through
        self.saved = []

    def forward(self, w, record=False):
        steps = self.niters + (1 if self.pass_through else 0)
        saved = []
        for i in range(steps):
            if record and (not self.pass_through or i == steps - 1):
                nxt, m = bjorck_recorded_step(w, self.beta)
                saved.append((w, m))
                w = nxt
            else:
                w = bjorck_step(w, self.beta)
        self.saved = saved
        return w

    def backward(self, g):
        for w, m in reversed(self.saved):
            g = bjorck_step_backward(w, m, g, self.beta)
        return g


class TriSolve:
    """L^-1 X (lower) or L^-T X: scipy's solve_triangular or np.linalg.solve,
    whichever is faster here (picked during warm-up)."""

    def __init__(self):
        self.choice = None
        self.variants = {"np.linalg.solve": self._np}
        if sla is not None:
            self.variants = {"scipy.linalg.solve_triangular": self._scipy, **self.variants}

    @staticmethod
    def _np(l, b, trans):
        return np.linalg.solve(l.mT if trans else l, b)

    @staticmethod
    def _scipy(l, b, trans):
        return sla.solve_triangular(l, b, lower=True, trans="T" if trans else "N", check_finite=False)

    def __call__(self, l, b, trans=False):
        return self.variants[self.choice or next(iter(self.variants))](l, b, trans)


class Cholesky:
    def __init__(self, stable, solve):
        self.stable, self.solve = stable, solve
        self.saved = None

    def forward(self, x, record=False):
        m = x.shape[-2]
        s = x @ x.mT
        s += 1e-5 * eye(x.dtype, m)
        l = np.linalg.cholesky(s)
        w = self.solve(l, x)
        if record:
            self.saved = (w, l, x if self.stable else None)
        return w

    def backward(self, g):
        w, l, x = self.saved
        gb = self.solve(l, g, trans=True)
        a = np.tril(-(gb @ w.mT))
        p = np.tril(l.mT @ a)
        p = p + np.tril(p, -1).mT
        p = self.solve(l, p, trans=True)
        if self.stable:
            # P L^-1 = (L^-T P^T)^T, P symmetric
            p = self.solve(l, p.mT, trans=True).mT
            return gb + p @ x
        return gb + p @ w


class Exponential:
    def __init__(self, niters):
        self.k = max(niters, 2)

    def forward(self, x, record=False):
        b, m, n = x.shape
        d = max(m, n)
        if m == n:
            p = x
        else:
            p = np.zeros((b, d, d), dtype=x.dtype)
            p[:, :m, :n] = x
        a = 0.5 * (p - p.mT)
        i = eye(x.dtype, d)
        h = a * (1.0 / (self.k - 1))
        h += i
        for j in range(self.k - 2, 0, -1):
            h = a @ h
            h *= 1.0 / j
            h += i
        return h if m == n else np.ascontiguousarray(h[:, :m, :n])


class QR:
    def forward(self, x, record=False):
        wide = x.shape[-2] < x.shape[-1]
        a = x.mT if wide else x
        q, r = np.linalg.qr(a)
        q *= np.sign(np.diagonal(r, axis1=-2, axis2=-1))[..., None, :]
        return q.mT if wide else q


class Identity:
    def forward(self, x, record=False):
        return x

    def backward(self, g):
        return g


class L2NormalizeAll:
    def forward(self, x, record=False):
        return x / (np.sqrt(np.sum(x * x)) + 1e-8)


def build_module(spec, x, rng, solve):
    kind = spec["kind"]
    if kind == "power_iteration":
        return PowerIteration(x, spec.get("powerItNiter", 3), spec.get("eps", 1e-12), rng)
    if kind == "bjorck":
        return Bjorck(spec.get("beta", 0.5), spec.get("niters", 12), spec.get("passThrough", False))
    if kind == "cholesky":
        return Cholesky(spec.get("stable", False), solve)
    if kind == "exponential":
        return Exponential(spec.get("niters", 12))
    if kind == "qr":
        return QR()
    if kind == "identity":
        return Identity()
    if kind == "l2normalize":
        return L2NormalizeAll()
    raise ValueError("unknown module kind " + kind)


class Chain:
    def __init__(self, first, second):
        self.first, self.second = first, second

    def forward(self, x, record=False):
        return self.second.forward(self.first.forward(x, record), record)

    def backward(self, g):
        return self.first.backward(self.second.backward(g))


def make_input(shape, dtype, seed):
    """randn / ||.||_F per matrix (spectral norm <= 1), as bench/child.mjs."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    x /= np.sqrt(np.sum(x * x, axis=(-2, -1), keepdims=True))
    return np.ascontiguousarray(x.astype(dtype))


def hot_closure(trial):
    """The factory: returns (fn, describe) for the trial's pass."""
    spec = trial["spec"]
    dtype = np.float32 if trial["dtype"] == "float32" else np.float64
    b, m, n = trial["shape"][0], trial["shape"][1], trial["shape"][2]
    x = make_input((b, m, n), dtype, 1234)
    rng = np.random.default_rng(99)
    solve = TriSolve()
    if "modules" in spec:  # a preset: normalizer then orthogonalizer
        mod = Chain(*(build_module(s, x, rng, solve) for s in spec["modules"]))
    else:
        mod = build_module(spec, x, rng, solve)
    if trial["pass"] == "backward":
        y = mod.forward(x, record=True)
        g = make_input(y.shape, dtype, 4321)
        fn = lambda: mod.backward(g)  # noqa: E731
    else:
        fn = lambda: mod.forward(x)  # noqa: E731
    return fn, solve


def timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def run(trial):
    fn, solve = hot_closure(trial)
    t = trial["timing"]
    # Pick the faster triangular solve while warming up (Cholesky only).
    if trial["spec"].get("kind") == "cholesky" or any(
        s["kind"] == "cholesky" for s in trial["spec"].get("modules", [])
    ):
        best = None
        for name in solve.variants:
            solve.choice = name
            fn()
            dt = min(timed(fn), timed(fn)) if t["warmupS"] > 0 else timed(fn)
            if best is None or dt < best[1]:
                best = (name, dt)
        solve.choice = best[0]
    warm_start = time.perf_counter()
    calls = 0
    while calls < t["minWarmup"] or (time.perf_counter() - warm_start < t["warmupS"] and calls < 50):
        fn()
        calls += 1
    # Slow calls (over a second each): the minimum of 3 timed runs suffices.
    min_reps = min(3, t["minReps"]) if (time.perf_counter() - warm_start) / calls > 1 else t["minReps"]
    times = []
    run_start = time.perf_counter()
    while len(times) < min_reps or (len(times) < t["maxReps"] and time.perf_counter() - run_start < t["budgetS"]):
        times.append(timed(fn))
    s = sorted(times)
    median = s[len(s) // 2] if len(s) % 2 else 0.5 * (s[len(s) // 2 - 1] + s[len(s) // 2])
    out = {
        "ok": True,
        "median_s": median,
        "times_s": times,
        "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }
    if solve.choice:
        out["variant"] = solve.choice
    return out


def versions():
    info = {"numpy": np.__version__, "python": sys.version.split()[0]}
    try:
        cfg = np.show_config(mode="dicts")
        blas = cfg["Build Dependencies"]["blas"]
        info["blas"] = "%s %s" % (blas.get("name", "?"), blas.get("version", "?"))
        info["blas_config"] = blas.get("openblas configuration", "")
    except Exception:  # older numpy: no dict mode
        pass
    if sla is not None:
        import scipy

        info["scipy"] = scipy.__version__
    return info


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--versions":
        print(json.dumps(versions()))
        return
    trial = json.loads(sys.argv[1])
    try:
        out = run(trial)
    except np.linalg.LinAlgError as e:
        out = {"ok": False, "error": "numpy: " + str(e)}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
