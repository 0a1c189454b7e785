// orthogonium-node: orthogonal and 1-Lipschitz weight reparametrization.
export { Tensor } from './tensor';
export type { DType, DeviceName, TensorOptions, RandnOptions, TypedArrayOf } from './tensor';
export { ReparamModule } from './modules/base';
export type { ModuleOptions, ModuleClass, WeightShape } from './modules/base';
export { L2Normalize } from './modules/l2-normalize';
export type { L2NormalizeOptions } from './modules/l2-normalize';
export { BatchedPowerIteration } from './modules/power-iteration';
export type { PowerIterationOptions } from './modules/power-iteration';
export { BatchedIdentity } from './modules/identity';
export { BatchedBjorckOrthogonalization } from './modules/bjorck';
export type { BjorckOptions } from './modules/bjorck';
export { BatchedCholeskyOrthogonalization } from './modules/cholesky';
export type { CholeskyOptions } from './modules/cholesky';
export { BatchedExponentialOrthogonalization } from './modules/exponential';
export type { ExponentialOptions } from './modules/exponential';
export { BatchedQROrthogonalization } from './modules/qr';
export { BatchedPolarOrthogonalization } from './modules/polar';
export type { PolarOptions, PolarDiagnostics } from './modules/polar';
export {
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
} from './ortho-params';
export type { ModuleFactory, ModuleSpec, OrthoParamsInit, BuildOptions } from './ortho-params';
export { singularValues, singularValuesSync, orthogonalityError, orthogonalityErrorSync, backends } from './diagnostics';
export type { BackendInfo } from './diagnostics';
export type { Precision } from './validate';
export { ErrorCodes } from './errors';
export type { ErrorCode, OrthoError } from './errors';
