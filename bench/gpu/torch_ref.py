"""The same algorithms as orthogonium-node's presets, written in PyTorch, timed
on the GPU. Reads a JSON list of cases on stdin, prints a JSON list of
{"case": ..., "ms": median_ms} on stdout (one line). Used by compare.mjs.

A case of kind "values" is not timed: it carries its input, the power
iteration's starting u and v and an output gradient, and gets back the
preset's output, the input's gradient (autograd) and, where the preset has
a power iteration, that module's own output, for
test/46.torch-ref.test.mjs, which checks that these are the functions our
presets compute. ORTHO_TORCH_DEVICE (default cuda) picks the device; cpu runs
everything without a GPU.

Same math as native/ops: power iteration (iterations without grad, output
X / (u^T X v + eps)), Björck w <- (1+b) w - b w (w^T w) (or (w w^T) w when
wide), Cholesky S = X X^T + 1e-5 I then L^{-1} X, QR with sign fix, and the
truncated exponential series. TF32 is off, as in ours, except in cases with
"precision": "tf32" (torch.backends.cuda.matmul.allow_tf32, PyTorch's switch
for tensor-core float32 products) and "bf16" (the Björck iterations in
bfloat16 throughout, the Newton-Schulz of the Muon optimizer: input cast to
bfloat16, every product and update in bfloat16, the result cast back; for the
polar preset after scaling by the Frobenius norm, as it has no power
iteration).
"""
import json
import os
import statistics
import sys
import time

import torch

torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
dev = torch.device(os.environ.get("ORTHO_TORCH_DEVICE", "cuda"))


def sync():
    if dev.type == "cuda":
        torch.cuda.synchronize()


def l2n(x):
    return x / (torch.linalg.vector_norm(x, dim=-2, keepdim=True) + 1e-8)


class PowerIteration:
    def __init__(self, shape, niter, eps, dtype, u=None, v=None):
        *b, m, n = shape
        g = torch.Generator(device="cpu").manual_seed(0)
        u = torch.randn(*b, m, 1, generator=g, dtype=dtype) if u is None else u
        v = torch.randn(*b, n, 1, generator=g, dtype=dtype) if v is None else v
        self.u, self.v = l2n(u).to(dev), l2n(v).to(dev)
        self.niter, self.eps = niter, eps

    def __call__(self, x):
        with torch.no_grad():
            u, v = self.u, self.v
            for _ in range(self.niter):
                v = l2n(x.transpose(-1, -2) @ u)
                u = l2n(x @ v)
            self.u, self.v = u, v
        s = (u.transpose(-1, -2) @ x @ v)
        return x / (s + self.eps)


def bjorck(w, beta, niters, pass_through=False):
    m, n = w.shape[-2], w.shape[-1]

    def step(w):
        if m >= n:
            return (1 + beta) * w - beta * (w @ (w.transpose(-1, -2) @ w))
        return (1 + beta) * w - beta * ((w @ w.transpose(-1, -2)) @ w)

    if pass_through:
        with torch.no_grad():
            v = w
            for _ in range(niters):
                v = step(v)
        if torch.is_grad_enabled() and w.requires_grad:
            # The last step's VJP goes straight to the input (DESIGN.md):
            # v's value with the identity as its derivative. Only where a
            # gradient is wanted, so the timed forward (no_grad) is as before.
            v = w + (v - w).detach()
        return step(v)
    for _ in range(niters):
        w = step(w)
    return w


def bjorck_bf16(w, beta, niters):
    out_dtype = w.dtype
    w = w.to(torch.bfloat16)
    for _ in range(niters):
        w = bjorck(w, beta, 1)
    return w.to(out_dtype)


def cholesky(x):
    m = x.shape[-2]
    s = x @ x.transpose(-1, -2) + 1e-5 * torch.eye(m, device=x.device, dtype=x.dtype)
    l = torch.linalg.cholesky(s)
    return torch.linalg.solve_triangular(l, x, upper=False)


def exponential(x, niters):
    m, n = x.shape[-2], x.shape[-1]
    d = max(m, n)
    if m != n:
        p = torch.zeros(*x.shape[:-2], d, d, device=x.device, dtype=x.dtype)
        p[..., :m, :n] = x
    else:
        p = x
    a = (p - p.transpose(-1, -2)) / 2
    res = torch.eye(d, device=x.device, dtype=x.dtype) + a
    term = a
    for k in range(2, max(niters, 2)):
        term = term @ a / k
        res = res + term
    return res[..., :m, :n]


def qr(x):
    m, n = x.shape[-2], x.shape[-1]
    wide = m < n
    if wide:
        x = x.transpose(-1, -2)
    q, r = torch.linalg.qr(x)
    q = q * torch.sign(torch.diagonal(r, dim1=-2, dim2=-1)).unsqueeze(-2)
    return q.transpose(-1, -2) if wide else q


def polar(x):
    # The orthogonal polar factor U Vh from the SVD; autograd through
    # torch.linalg.svd gives the VJP of the polar factor itself (distinct
    # singular values), what BatchedPolarOrthogonalization's backward computes.
    u, _, vh = torch.linalg.svd(x, full_matrices=False)
    return u @ vh


PRESETS = {
    "default": (dict(niter=3, eps=1e-6), lambda w: bjorck(w, 0.5, 12)),
    "bjorck-pass-through": (dict(niter=3, eps=1e-4), lambda w: bjorck(w, 0.5, 12, pass_through=True)),
    # The Cholesky presets have no spectral normalizer (BatchedIdentity).
    "cholesky": (None, cholesky),
    "cholesky-stable": (None, cholesky),
    "test": (dict(niter=4, eps=1e-4), lambda w: bjorck(w, 0.5, 25)),
    "exp": (dict(niter=3, eps=1e-6), lambda w: exponential(w, 12)),
    "qr": (dict(niter=3, eps=1e-3), qr),
    # No spectral normalizer (BatchedIdentity); the scaling is internal.
    "polar": (None, polar),
}


def timed(fn, warmup, min_reps, budget_s):
    for _ in range(warmup):
        fn()
    sync()
    times = []
    start = time.perf_counter()
    while len(times) < min_reps or (time.perf_counter() - start < budget_s and len(times) < 50):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times), len(times)


def tensor(flat, shape, dtype):
    return torch.tensor(flat, dtype=dtype).reshape(*shape)


def values(case, dtype):
    """The preset's output for case["input"] and the input's gradient for case["grad"] (flat, row-major)."""
    shape = case["shape"]
    *b, m, n = shape
    pi_opts, orth = PRESETS[case["preset"]]
    x = tensor(case["input"], shape, dtype).to(dev).requires_grad_(True)
    out = {"case": case["id"]}
    if pi_opts:
        u, v = tensor(case["u"], [*b, m, 1], dtype), tensor(case["v"], [*b, n, 1], dtype)
        pi = PowerIteration(shape, pi_opts["niter"], pi_opts["eps"], dtype, u, v)
        # The spectral normalizer's own output, from a second copy of the same state.
        with torch.no_grad():
            sn = PowerIteration(shape, pi_opts["niter"], pi_opts["eps"], dtype, u, v)(x)
        out["sn"] = sn.cpu().flatten().tolist()
    else:
        pi = lambda w: w  # noqa: E731
    y = orth(pi(x))
    (dx,) = torch.autograd.grad(y, x, tensor(case["grad"], shape, dtype).to(dev))
    out["y"], out["dx"] = y.detach().cpu().flatten().tolist(), dx.cpu().flatten().tolist()
    return out


def run(case):
    shape, preset, kind = case["shape"], case["preset"], case["kind"]
    dtype = torch.float32 if case.get("dtype", "float32") == "float32" else torch.float64
    if kind == "values":
        return values(case, dtype)
    g = torch.Generator(device="cpu").manual_seed(1)
    # well-conditioned input, as compare.mjs: I + 0.25 G / sqrt(max(m, n))
    m, n = shape[-2], shape[-1]
    x = torch.randn(*shape, generator=g, dtype=dtype) * (0.25 / max(m, n) ** 0.5)
    x = (x + torch.eye(m, n, dtype=dtype)).to(dev)
    pi_opts, orth = PRESETS[preset]
    precision = case.get("precision", "fp32")
    if precision == "bf16":
        if preset not in ("default", "polar"):
            raise ValueError("bf16 cases exist for the default and polar presets only")
        orth = lambda w: bjorck_bf16(w, 0.5, 12)  # noqa: E731
        if pi_opts is None:  # polar: no power iteration; scale as ours does, by the Frobenius norm
            orth = lambda w: bjorck_bf16(w / torch.linalg.matrix_norm(w, keepdim=True), 0.5, 12)  # noqa: E731
    torch.backends.cuda.matmul.allow_tf32 = precision == "tf32"
    pi = PowerIteration(shape, pi_opts["niter"], pi_opts["eps"], dtype) if pi_opts else (lambda w: w)
    if kind == "forward":
        def fn():
            with torch.no_grad():
                orth(pi(x))
    elif kind == "forward-grad":
        xg = x.clone().requires_grad_(True)

        def fn():
            orth(pi(xg))  # builds the autograd graph, as a training step's forward
    else:
        xg = x.clone().requires_grad_(True)
        y = orth(pi(xg))
        gy = torch.randn(*shape, generator=g, dtype=dtype).to(dev)

        def fn():
            torch.autograd.grad(y, xg, gy, retain_graph=True)
    ms, reps = timed(fn, case.get("warmup", 2), case.get("minReps", 3), case.get("budget", 0.5))
    out = {"case": case["id"], "ms": ms, "reps": reps}
    if case.get("profile"):
        out["kernels"] = kernels(fn, case.get("minReps", 3))
    return out


def kernels(fn, reps):
    """The GPU kernels and copies of `reps` calls (torch.profiler, CUPTI), per call, largest first
    (on the CPU device: the operators and their CPU time)."""
    from torch.profiler import ProfilerActivity, profile

    on_gpu = dev.type == "cuda"
    with profile(activities=[ProfilerActivity.CUDA if on_gpu else ProfilerActivity.CPU]) as prof:
        for _ in range(reps):
            fn()
        sync()
    rows = []
    for e in prof.key_averages():
        if on_gpu:
            us = getattr(e, "device_time_total", None)
            if us is None:
                us = getattr(e, "cuda_time_total", 0)
        else:
            us = e.self_cpu_time_total
        if us > 0:
            rows.append({"name": e.key[:120], "calls": e.count / reps, "ms": us / 1e3 / reps})
    rows.sort(key=lambda r: -r["ms"])
    return rows[:25]


def main():
    cases = json.load(sys.stdin)
    out = []
    for c in cases:
        try:
            out.append(run(c))
        except Exception as e:  # report and go on: one failing case must not hide the rest
            out.append({"case": c["id"], "error": f"{type(e).__name__}: {e}"})
        torch.backends.cuda.matmul.allow_tf32 = False
        if dev.type == "cuda":
            torch.cuda.empty_cache()
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"
    info = {"torch": torch.__version__, "cuda": torch.version.cuda, "device": name}
    print(json.dumps({"info": info, "results": out}))


if __name__ == "__main__":
    main()
