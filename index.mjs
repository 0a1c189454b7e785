// ES module entry: re-exports the CommonJS build (dist/index.js).
import cjs from './dist/index.js';

export const {
  Tensor,
  ReparamModule,
  L2Normalize,
  BatchedPowerIteration,
  BatchedIdentity,
  BatchedBjorckOrthogonalization,
  BatchedCholeskyOrthogonalization,
  BatchedExponentialOrthogonalization,
  BatchedQROrthogonalization,
  BatchedPolarOrthogonalization,
  OrthoParams,
  OrthoModule,
  classParam,
  DEFAULT_ORTHO_PARAMS,
  BJORCK_PASS_THROUGH_ORTHO_PARAMS,
  CHOLESKY_ORTHO_PARAMS,
  CHOLESKY_STABLE_ORTHO_PARAMS,
  DEFAULT_TEST_ORTHO_PARAMS,
  EXP_ORTHO_PARAMS,
  QR_ORTHO_PARAMS,
  POLAR_ORTHO_PARAMS,
  PRESETS,
  singularValues,
  singularValuesSync,
  orthogonalityError,
  orthogonalityErrorSync,
  backends,
  ErrorCodes,
} = cjs;
export default cjs;
