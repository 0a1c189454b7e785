// Compile-time checks of the public types, as a user of the package sees
// them (dist/*.d.ts through the package's "types"). test/08.types.test.mjs
// runs tsc on this file; each @ts-expect-error line must be an error, or tsc
// fails on the unused directive.
import {
  type BackendInfo,
  BatchedBjorckOrthogonalization,
  BatchedCholeskyOrthogonalization,
  BatchedExponentialOrthogonalization,
  BatchedIdentity,
  BatchedPowerIteration,
  BatchedQROrthogonalization,
  BJORCK_PASS_THROUGH_ORTHO_PARAMS,
  CHOLESKY_ORTHO_PARAMS,
  CHOLESKY_STABLE_ORTHO_PARAMS,
  DEFAULT_ORTHO_PARAMS,
  DEFAULT_TEST_ORTHO_PARAMS,
  type DType,
  EXP_ORTHO_PARAMS,
  L2Normalize,
  OrthoModule,
  OrthoParams,
  PRESETS,
  QR_ORTHO_PARAMS,
  ReparamModule,
  Tensor,
  backends,
  classParam,
  orthogonalityErrorSync,
  singularValues,
} from 'orthogonium-node';
import * as ortho from 'orthogonium-node';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function assertType<T extends true>(_: T): void {}

// --- Tensor<D>: the dtype in the type, toTypedArray() typed by it ----------
const f32 = Tensor.randn([4, 3]);
const f64 = Tensor.randn([4, 3], { dtype: 'float64' });
assertType<Equal<typeof f32, Tensor<'float32'>>>(true);
assertType<Equal<typeof f64, Tensor<'float64'>>>(true);
const a32: Float32Array = f32.toTypedArray();
const a64: Float64Array = f64.toTypedArray();
// @ts-expect-error a float32 tensor's values are not a Float64Array
const wrong64: Float64Array = f32.toTypedArray();
// @ts-expect-error a float64 tensor's values are not a Float32Array
const wrong32: Float32Array = f64.toTypedArray();
assertType<Equal<ReturnType<Tensor<'float64'>['toTypedArray']>, Float64Array>>(true);
assertType<Equal<ReturnType<Tensor['toTypedArray']>, Float32Array | Float64Array>>(true);

assertType<Equal<typeof f64.dtype, 'float64'>>(true);
const zeros = Tensor.zeros([2, 2]);
const eye64 = Tensor.eye(3, { dtype: 'float64' });
assertType<Equal<typeof zeros, Tensor<'float32'>>>(true);
assertType<Equal<typeof eye64, Tensor<'float64'>>>(true);
const fromF64 = Tensor.from(new Float64Array(6), [2, 3]);
const fromF32 = Tensor.from(new Float32Array(6), [2, 3]);
const fromList = Tensor.from([1, 2, 3, 4], [2, 2]);
const fromListF64 = Tensor.from([1, 2, 3, 4], [2, 2], { dtype: 'float64' });
assertType<Equal<typeof fromF64, Tensor<'float64'>>>(true);
assertType<Equal<typeof fromF32, Tensor<'float32'>>>(true);
assertType<Equal<typeof fromList, Tensor<'float32'>>>(true);
assertType<Equal<typeof fromListF64, Tensor<'float64'>>>(true);
assertType<Equal<ReturnType<typeof f32.to<'float64'>>, Tensor<'float64'>>>(true);
const moved = f32.to('cpu');
const converted = f32.to('cpu', 'float64');
assertType<Equal<typeof moved, Tensor<'float32'>>>(true);
assertType<Equal<typeof converted, Tensor<'float64'>>>(true);
assertType<Equal<ReturnType<typeof f64.reshape>, Tensor<'float64'>>>(true);
assertType<Equal<ReturnType<typeof f64.clone>, Tensor<'float64'>>>(true);
// A Tensor<'float32'> is a Tensor.
const anyTensor: Tensor = f32;
const anyDtype: DType = anyTensor.dtype;
// @ts-expect-error not a dtype
Tensor.zeros([2, 2], { dtype: 'float16' });
// @ts-expect-error tensors come from the static factories
new Tensor();

// --- modules keep the input's dtype -----------------------------------------
const bjorck = new BatchedBjorckOrthogonalization([4, 3], { niters: 20, requiresGrad: true });
const out64: Tensor<'float64'> = bjorck.forwardSync(f64);
const grad64: Promise<Tensor<'float64'>> = bjorck.backward(out64);
// @ts-expect-error float32 in, float32 out
const out32as64: Tensor<'float64'> = bjorck.forwardSync(f32);
// @ts-expect-error an unknown option
new BatchedBjorckOrthogonalization([4, 3], { nitres: 20 });
new L2Normalize({ dim: -1 });
new BatchedCholeskyOrthogonalization([4, 3], { stable: true });
new BatchedExponentialOrthogonalization([4, 3], { niters: 7 });
new BatchedQROrthogonalization([4, 3]);
new BatchedIdentity([4, 3]);
// @ts-expect-error the base class is abstract
new ReparamModule();

// --- OrthoParams and the presets: the halves keep their classes ---------------
const m = DEFAULT_ORTHO_PARAMS.build([4, 3], { seed: 1 });
const u: Tensor = m.spectralNormalizer.u;
const niters: number = m.orthogonalizer.niters;
assertType<Equal<typeof m, OrthoModule<BatchedPowerIteration, BatchedBjorckOrthogonalization>>>(true);
assertType<Equal<ReturnType<typeof BJORCK_PASS_THROUGH_ORTHO_PARAMS.build>['orthogonalizer'], BatchedBjorckOrthogonalization>>(true);
assertType<Equal<ReturnType<typeof DEFAULT_TEST_ORTHO_PARAMS.build>['spectralNormalizer'], BatchedPowerIteration>>(true);
assertType<Equal<ReturnType<typeof EXP_ORTHO_PARAMS.build>['orthogonalizer'], BatchedExponentialOrthogonalization>>(true);
assertType<Equal<ReturnType<typeof QR_ORTHO_PARAMS.build>['orthogonalizer'], BatchedQROrthogonalization>>(true);
assertType<Equal<ReturnType<typeof CHOLESKY_ORTHO_PARAMS.build>['spectralNormalizer'], BatchedIdentity>>(true);
assertType<Equal<ReturnType<typeof CHOLESKY_STABLE_ORTHO_PARAMS.build>['orthogonalizer'], BatchedCholeskyOrthogonalization>>(true);
// @ts-expect-error the Cholesky presets have no power iteration
CHOLESKY_ORTHO_PARAMS.build([4, 3]).spectralNormalizer.u;

const custom = new OrthoParams({
  spectralNormalizer: classParam(BatchedPowerIteration, { powerItNiter: 5 }),
  orthogonalizer: classParam(BatchedBjorckOrthogonalization, { beta: 0.5 }),
});
const built = custom.build([8, 8]);
const beta: number = built.orthogonalizer.beta;
const v: Tensor = built.spectralNormalizer.v;
// README's example: a bare class is a spec too.
const readme = new OrthoParams({
  spectralNormalizer: classParam(BatchedPowerIteration, { powerItNiter: 3, eps: 1e-3 }),
  orthogonalizer: BatchedQROrthogonalization,
}).build([16, 128, 128], { requiresGrad: true, seed: 1 });
const readmeU: Tensor = readme.spectralNormalizer.u;
assertType<Equal<typeof readme.orthogonalizer, BatchedQROrthogonalization>>(true);
// @ts-expect-error classParam's defaults are the class's options
classParam(BatchedQROrthogonalization, { niters: 3 });
const general: OrthoParams = QR_ORTHO_PARAMS;
const preset: OrthoParams | undefined = PRESETS['qr'];
const composed: ReparamModule = general.build([4, 3]);
// @ts-expect-error OrthoModules come from OrthoParams#build
new OrthoModule();

// --- one BackendInfo ---------------------------------------------------------
const info: BackendInfo[] = backends();
const level: string | undefined = info[0].level;
const levels: string[] | undefined = info[0].levels;
const cpuLevel: string | undefined = info[0].cpuLevel;
const features: string[] | undefined = info[0].features;
const e: Tensor<'float64'> = orthogonalityErrorSync(f64);
const s: Promise<Tensor<'float32'>> = singularValues(f32);

// --- internals stay out of the published types ---------------------------------
// @ts-expect-error not exported
ortho.wrapNative;
// @ts-expect-error not exported
ortho.handleOf;
// @ts-expect-error internal members are not in the declarations
m.native;
// @ts-expect-error internal members are not in the declarations
m.checkIdle('x');

export const used = [readmeU, a32, a64, wrong64, wrong32, anyDtype, out64, grad64, out32as64, u, niters, beta, v, preset, composed, level, levels, cpuLevel, features, e, s];
