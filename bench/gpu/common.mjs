// What compare.mjs and profile.mjs share: the input recipe, the median and
// the timing loop.
import { Tensor } from '../../index.mjs';

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
}

// forwardSync/backwardSync return after the GPU is done: the result is
// checked for non-finite values on the device and the count copied back.
// Warm-up calls, then timed calls until minReps and the budget (seconds)
// are both reached, at most maxReps.
export function timed(fn, { warmup = 2, minReps = 3, budget = 0.5, maxReps = 50 } = {}) {
  for (let i = 0; i < warmup; i++) fn().dispose();
  const times = [];
  const start = performance.now();
  while (times.length < minReps || (performance.now() - start < budget * 1e3 && times.length < maxReps)) {
    const t0 = performance.now();
    const y = fn();
    times.push(performance.now() - t0);
    y.dispose();
  }
  return { ms: median(times), reps: times.length };
}

// Well-conditioned input, the same recipe as torch_ref.py: I + 0.25·G/√max(m, n)
// (σ in about [0.5, 1.5]), so that float32 Cholesky of X Xᵀ + 1e-5·I exists at
// every size (a square Gaussian of 4096 has σmin too small for float32).
export function wellConditioned(shape, device = 'cuda') {
  const [m, n] = shape.slice(-2);
  const g = Tensor.randn(shape, { seed: 1 });
  const a = g.toTypedArray();
  g.dispose();
  const s = 0.25 / Math.sqrt(Math.max(m, n));
  for (let i = 0; i < a.length; i++) a[i] *= s;
  for (let b = 0; b < a.length / (m * n); b++) for (let i = 0; i < Math.min(m, n); i++) a[b * m * n + i * n + i] += 1;
  return Tensor.from(a, shape, { device });
}
