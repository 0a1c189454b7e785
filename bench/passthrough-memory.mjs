// Memory of Björck's backward context as niters grows, with and without
// passThrough (issue 3). Each configuration runs in a fresh process: one
// forward with requiresGrad and one backward on [16, 256, 256] float32
// weights; reported: the saved context (bytes held between forward and
// backward) and the process's peak RSS.
//   node bench/passthrough-memory.mjs
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';

const shape = [16, 256, 256];

if (process.argv[2] === '--child') {
  const [niters, passThrough] = [Number(process.argv[3]), process.argv[4] === 'true'];
  const ortho = await import('../index.mjs');
  const x = ortho.Tensor.randn(shape, { seed: 1 });
  const m = new ortho.OrthoParams({
    orthogonalizer: ortho.classParam(ortho.BatchedBjorckOrthogonalization, { niters, passThrough }),
  }).build(shape, { requiresGrad: true, seed: 1 });
  const rssBefore = process.memoryUsage().rss;
  m.forwardSync(x);
  const context = m.spectralNormalizer.contextBytes + m.orthogonalizer.contextBytes;
  m.backwardSync(ortho.Tensor.randn(shape, { seed: 2 }));
  const peak = process.resourceUsage().maxRSS * 1024;
  process.stdout.write(JSON.stringify({ context, peakRss: peak, rssBefore }));
  process.exit(0);
}

const self = fileURLToPath(import.meta.url);
const mib = (b) => (b / 2 ** 20).toFixed(1);
console.log(`Björck backward context, weights [${shape.join(', ')}] float32 (${mib(shape.reduce((a, b) => a * b) * 4)} MiB each copy)`);
console.log(`machine: ${os.cpus()[0].model}, ${os.cpus().length} cores, node ${process.version}`);
console.log('| niters | passThrough | saved context (MiB) | peak RSS (MiB) |');
console.log('|---:|---|---:|---:|');
for (const passThrough of [true, false])
  for (const niters of [1, 3, 12, 25, 50]) {
    const out = JSON.parse(execFileSync(process.execPath, [self, '--child', String(niters), String(passThrough)], { encoding: 'utf8' }));
    console.log(`| ${niters} | ${passThrough} | ${mib(out.context)} | ${mib(out.peakRss)} |`);
  }
