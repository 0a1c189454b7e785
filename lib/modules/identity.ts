import { ModuleOptions, ReparamModule, WeightShape, checkWeightShape, createNative, readBaseOptions } from './base';

/**
 * The identity (orthogonium's `BatchedIdentity`): forward returns its input
 * and backward its gradient. The Cholesky presets use it as their spectral
 * normalizer.
 */
export class BatchedIdentity extends ReparamModule {
  constructor(weightShape: WeightShape, options?: ModuleOptions) {
    const ws = checkWeightShape(weightShape);
    const { native, requiresGrad } = readBaseOptions('identity', options, [], 'BatchedIdentity options');
    super(createNative('identity', ws, native), ws, requiresGrad);
  }
}
