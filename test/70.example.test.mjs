// examples/train-orthogonal.ts: a small version of the Procrustes example
// must converge through DEFAULT_ORTHO_PARAMS' backward.
import { createRequire } from 'node:module';
import { expect } from './00.setup.mjs';

const require = createRequire(import.meta.url);

describe('examples/train-orthogonal', function () {
  it('learns the hidden orthogonal map by gradient descent', async function () {
    const { train } = require('../examples/build/train-orthogonal.js');
    const r = await train({ n: 12, steps: 300, log: () => {} });
    expect(r.losses).to.have.length(301);
    expect(r.finalLoss).to.be.below(1e-3 * r.initialLoss);
    expect(r.losses[300]).to.be.below(r.losses[100]);
    expect(r.orthogonalityError).to.be.below(1e-10);
    expect(r.distanceToQ).to.be.below(0.02);
  });
});
