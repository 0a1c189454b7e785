// Which tensors are weights, and the matrices they are viewed as.
//
// A tensor is processed when all of these hold:
//   - its dtype is F16, BF16, F32 or F64 (for .npy: f2, f4 or f8, either
//     byte order); other dtypes are never processed;
//   - it has rank >= 2 + batchDims and no dimension of size 0;
//   - its name matches one of the --include expressions (when any are given)
//     and none of the --exclude expressions.
// Its matrix view keeps the first `batchDims` dimensions as a batch, takes
// the next dimension as the rows and flattens all the remaining ones into
// the columns (PyTorch's convention for weights: [out, in] for a linear
// layer; a conv kernel [out, in, kh, kw] becomes [out, in·kh·kw], a conv1d
// or conv3d kernel likewise). The result is reshaped back to the tensor's
// own shape. Everything else is copied byte for byte.
import type { StoredTensor } from '../io/tensor-file';

/** What selects the weights. */
export interface WeightRule {
  /** A name must match one of these (when non-empty). */
  readonly include: readonly RegExp[];
  /** A name matching one of these is left out. */
  readonly exclude: readonly RegExp[];
  /** Leading dimensions taken as a batch of independent matrices. */
  readonly batchDims: number;
}

/** How a tensor is treated. */
export type TensorPlan =
  | { readonly weight: true; readonly matrixShape: readonly number[]; readonly batch: number; readonly rows: number; readonly cols: number }
  | { readonly weight: false; readonly reason: string };

/** The plan for `t` under `rule`. */
export function planTensor(t: StoredTensor, rule: WeightRule): TensorPlan {
  if (rule.include.length > 0 && !rule.include.some((r) => r.test(t.name))) return { weight: false, reason: 'not matched by --include' };
  const ex = rule.exclude.find((r) => r.test(t.name));
  if (ex) return { weight: false, reason: `excluded by --exclude ${ex.source}` };
  if (!t.dtype.float) return { weight: false, reason: `${t.dtype.name}: not a float dtype` };
  const rank = t.shape.length;
  if (rank < 2) return { weight: false, reason: rank === 0 ? 'scalar' : 'rank 1' };
  if (rank < rule.batchDims + 2) return { weight: false, reason: `rank ${rank} < --batch-dims ${rule.batchDims} + 2` };
  if (t.numel === 0) return { weight: false, reason: 'empty: a dimension is 0' };
  const batchShape = t.shape.slice(0, rule.batchDims);
  const rows = t.shape[rule.batchDims];
  const cols = t.shape.slice(rule.batchDims + 1).reduce((a, b) => a * b, 1);
  const batch = batchShape.reduce((a, b) => a * b, 1);
  return { weight: true, matrixShape: [...batchShape, rows, cols], batch, rows, cols };
}

/** `[a, b, c]` */
export function showShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}
