import { ModuleOptions, ReparamModule, WeightShape, checkWeightShape, createNative, readBaseOptions } from './base';

/**
 * QR orthogonalization: wide inputs are transposed, Q of the reduced QR has
 * column j multiplied by sign(R_jj) (sign(0) = 0, as torch.sign), and the
 * result is transposed back. backward() needs full-rank input and throws
 * `ERR_ORTHO_RANK_DEFICIENT` otherwise.
 */
export class BatchedQROrthogonalization extends ReparamModule {
  constructor(weightShape: WeightShape, options?: ModuleOptions) {
    const ws = checkWeightShape(weightShape);
    const { native } = readBaseOptions(options, [], 'BatchedQROrthogonalization options');
    super(createNative('qr', ws, native), ws, native.requiresGrad!);
  }
}
