import { ModuleOptions, ReparamModule, WeightShape, checkWeightShape, createNative, readBaseOptions } from './base';

/**
 * QR orthogonalization: wide inputs are transposed, Q of the reduced QR has
 * column j multiplied by sign(R_jj) (sign(0) = 0, as torch.sign), and the
 * result is transposed back. backward() needs full-rank input and throws
 * `ERR_ORTHO_RANK_DEFICIENT` otherwise.
 *
 * ```ts
 * const qr = new BatchedQROrthogonalization([128, 64]);
 * const q = qr.forwardSync(w);   // 64 orthonormal columns
 * ```
 */
export class BatchedQROrthogonalization extends ReparamModule {
  constructor(weightShape: WeightShape, options?: ModuleOptions) {
    const ws = checkWeightShape(weightShape);
    const { native, requiresGrad } = readBaseOptions('qr', options, [], 'BatchedQROrthogonalization options');
    super(createNative('qr', ws, native), ws, requiresGrad);
  }
}
