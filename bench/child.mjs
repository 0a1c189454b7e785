// One benchmark trial in a fresh process: node bench/child.mjs '<job json>'.
// The job is { impl, trial, timing } (or { ceiling: { dtype, sizes, reps } }).
// Asks the implementation's factory for the hot closure, warms it up, times
// repeated calls and prints one JSON line:
//   { ok, median_s, times_s, maxrss_kb, ... } or { ok: false, error | skipped }.
// Peak RSS is this process's (process.resourceUsage().maxRSS, KiB).
import { ML_MATRIX_BUDGET_S } from './trials.mjs';

const now = () => performance.now() / 1000;

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : 0.5 * (s[h - 1] + s[h]);
}

async function timeClosure(call, timing) {
  const warmStart = now();
  let calls = 0;
  while (calls < timing.minWarmup || (now() - warmStart < timing.warmupS && calls < 50)) {
    await call();
    calls++;
  }
  // Slow calls (over a second each): the minimum of 3 timed runs suffices.
  const minReps = (now() - warmStart) / calls > 1 ? Math.min(3, timing.minReps) : timing.minReps;
  const times = [];
  const runStart = now();
  while (times.length < minReps || (times.length < timing.maxReps && now() - runStart < timing.budgetS)) {
    const t0 = now();
    await call();
    times.push(now() - t0);
  }
  return times;
}

async function runOurs(trial, timing) {
  const f = await import('./factories/orthogonium.mjs');
  const c = f.create(trial);
  if (c.fnAsync) {
    // async-xN: all N forward() calls at once, vs the same calls one by one
    const times = await timeClosure(c.fnAsync, timing);
    const serial = await timeClosure(c.fn, timing);
    return { median_s: median(times), times_s: times, serial_median_s: median(serial) };
  }
  const times = await timeClosure(c.fn, timing);
  return { median_s: median(times), times_s: times };
}

async function runMlMatrix(trial, timing) {
  const f = await import('./factories/ml-matrix.mjs');
  const B = trial.shape[0];
  // One matrix first: how long does ml-matrix take per matrix?
  const one = f.create(trial, 1);
  const t0 = now();
  one.fn();
  const t1 = now() - t0;
  if (t1 > ML_MATRIX_BUDGET_S) return { skipped: `one matrix took ${t1.toFixed(0)} s (> ${ML_MATRIX_BUDGET_S} s)` };
  // Largest sub-batch whose warm-up and timed calls fit the measuring budget.
  const calls = timing.minWarmup + timing.minReps;
  if (t1 * calls > timing.mlBudgetS) {
    // Seconds per matrix: that first call is the one sample (JIT warm-up is
    // noise at this length).
    return { median_s: t1 * B, times_s: [t1 * B], batch_used: 1, scaled: B > 1, single_sample: true };
  }
  const b = Math.max(1, Math.min(B, Math.floor(timing.mlBudgetS / calls / Math.max(t1, 1e-6))));
  const c = b === 1 ? one : f.create(trial, b);
  const times = (await timeClosure(c.fn, timing)).map((t) => (t * B) / b);
  return {
    median_s: median(times),
    times_s: times,
    batch_used: b,
    scaled: b < B,
    finishes_within_minute: median(times) <= 60,
  };
}

async function runCeiling({ dtype, sizes, reps }) {
  const f = await import('./factories/orthogonium.mjs');
  const rows = [];
  for (const size of sizes) {
    const [B, m, n, k] = size;
    f.gemmCeiling(dtype, size, 2); // warm-up
    const times = f.gemmCeiling(dtype, size, reps);
    const med = median(times);
    rows.push({ size, median_s: med, gflops: (2 * B * m * n * k) / med / 1e9 });
  }
  const best = rows.reduce((a, r) => (r.gflops > a.gflops ? r : a));
  return { dtype, sizes: rows, best };
}

async function main() {
  const job = JSON.parse(process.argv[2]);
  let out;
  try {
    if (job.ceiling) out = await runCeiling(job.ceiling);
    else if (job.impl === 'orthogonium') out = await runOurs(job.trial, job.timing);
    else if (job.impl === 'ml-matrix') out = await runMlMatrix(job.trial, job.timing);
    else throw new Error(`unknown implementation ${job.impl}`);
    out = { ok: !out.skipped, ...out };
  } catch (e) {
    out = { ok: false, error: `${e.code ? e.code + ': ' : ''}${e.message}` };
  }
  out.maxrss_kb = process.resourceUsage().maxRSS;
  process.stdout.write(JSON.stringify(out) + '\n');
}

await main();
