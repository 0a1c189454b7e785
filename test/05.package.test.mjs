// The package entry points: `import` and `require()` of the package root
// give the same API, including every name of the design's contract.
import { createRequire } from 'node:module';
import { expect, ortho } from './00.setup.mjs';

const require = createRequire(import.meta.url);

const CONTRACT = [
  'Tensor', 'backends', 'L2Normalize', 'BatchedPowerIteration', 'BatchedIdentity',
  'BatchedBjorckOrthogonalization', 'BatchedCholeskyOrthogonalization', 'BatchedExponentialOrthogonalization',
  'BatchedQROrthogonalization', 'OrthoParams', 'classParam', 'DEFAULT_ORTHO_PARAMS',
  'BJORCK_PASS_THROUGH_ORTHO_PARAMS', 'CHOLESKY_ORTHO_PARAMS', 'CHOLESKY_STABLE_ORTHO_PARAMS',
  'DEFAULT_TEST_ORTHO_PARAMS', 'EXP_ORTHO_PARAMS', 'QR_ORTHO_PARAMS', 'singularValues', 'orthogonalityError',
  'singularValuesSync', 'orthogonalityErrorSync',
];

describe('package entry points', function () {
  it('import (index.mjs) exposes every name of the contract', function () {
    for (const name of CONTRACT) expect(ortho[name], name).to.not.equal(undefined);
  });

  it('require() of the package root gives the same objects as import', function () {
    const cjs = require('orthogonium-node');
    const esmNames = Object.keys(ortho).filter((k) => k !== 'default').sort();
    expect(esmNames).to.deep.equal(Object.keys(cjs).sort());
    for (const name of esmNames) expect(ortho[name], name).to.equal(cjs[name]);
  });
});
