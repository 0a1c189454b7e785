// Types of the native module (build/Release/orthogonium.node or a prebuild).
// Internal: the public API is lib/, which wraps every export below.
import type { BackendInfo } from './lib/diagnostics';

export type NativeDType = 'float32' | 'float64';

/** A native tensor handle; values are immutable once created. */
export declare class NativeTensor {
  private constructor();
  readonly shape: number[];
  readonly dtype: NativeDType;
  /** 'cpu' or 'cuda:N' */
  readonly device: string;
  /** 0 once disposed */
  readonly byteLength: number;
  readonly disposed: boolean;
  /** A host copy of the values. */
  toTypedArray(): Float32Array | Float64Array;
  /** A copy on `device`, converted to `dtype` when given. */
  to(device: string, dtype?: NativeDType): NativeTensor;
  /** The same values under another shape (shares memory). */
  reshape(shape: number[]): NativeTensor;
  /** Drops this handle's reference now (idempotent). */
  dispose(): void;
}

/**
 * A module's options as the TypeScript classes pass them (validated there);
 * the native side reads each kind's options by its schema
 * (native/ops/module_registry.h) and ignores keys the kind does not declare.
 */
export type NativeModuleOptions = Record<string, boolean | number | bigint | string | number[] | null | undefined>;

export interface NativePolarDiagnostics {
  iterations: number;
  residual: number;
  converged: boolean;
  tol: number;
  residuals: Float64Array;
  stalled: number[];
  belowLowerBound: number[];
}

/** A registered module kind (native/ops/module_registry.h). */
export type NativeModuleKind = string;

export declare class NativeModule {
  constructor(kind: NativeModuleKind, weightShape: number[] | undefined, options?: NativeModuleOptions);
  forwardSync(x: NativeTensor): NativeTensor;
  forward(x: NativeTensor): Promise<NativeTensor>;
  backwardSync(g: NativeTensor): NativeTensor;
  backward(g: NativeTensor): Promise<NativeTensor>;
  rightInverse(w: NativeTensor): NativeTensor;
  /** Power iteration only: a copy of u or v. */
  getState(name: 'u' | 'v'): NativeTensor;
  /** Power iteration only: replaces u or v with its l2-normalized value. */
  setState(name: 'u' | 'v', value: NativeTensor): void;
  clearContext(): void;
  contextBytes(): number;
  /** Polar module only: what the latest forward found (null before one). */
  polarDiagnostics(): NativePolarDiagnostics | null;
  dispose(): void;
}

export interface Binding {
  NativeTensor: typeof NativeTensor;
  NativeModule: typeof NativeModule;
  createChain(first: NativeModule, second: NativeModule, requiresGrad: boolean): NativeModule;
  tensorFromArray(data: Float32Array | Float64Array, shape: number[], dtype: NativeDType, device: string): NativeTensor;
  tensorRandn(shape: number[], dtype: NativeDType, device: string, seed?: number | bigint): NativeTensor;
  tensorFill(kind: 'zeros' | 'eye', shape: number[], dtype: NativeDType, device: string): NativeTensor;
  singularValuesSync(t: NativeTensor): NativeTensor;
  singularValues(t: NativeTensor): Promise<NativeTensor>;
  orthogonalityErrorSync(t: NativeTensor): NativeTensor;
  orthogonalityError(t: NativeTensor): Promise<NativeTensor>;
  /** The objects `backends()` returns, as they are. */
  backends(): BackendInfo[];
  /** Every registered module kind's option defaults: `{ kind: { option: default } }`. */
  moduleDefaults(): Record<string, Record<string, boolean | number | string>>;
  /** The polar module's coefficient schedule for a lower bound. */
  polarSchedule(lowerBound: number): number[][];
  /**
   * @internal Diagnostics and tests: cuBLAS and cuSOLVER loaded at run time
   * on their own (no GPU needed; once per process): the files and the
   * versions the libraries report, or why loading failed. `built` is false
   * when the addon has no CUDA backend.
   */
  cudaLibraries(): { built: boolean; ok: boolean; versions?: string; files?: string[]; reason?: string };
  /**
   * @internal Tests and diagnostics: cuda:`index`'s caching allocator (bytes
   * in live blocks, in cached freed blocks, and the cap on those,
   * ORTHO_CUDA_CACHE_MB) and the device's free and total memory as the
   * driver reports them (every process's use). Creates the device's backend
   * when needed; throws as any use of an unavailable device does.
   */
  cudaMemory(index: number): { liveBytes: number; cachedBytes: number; maxCachedBytes: number; deviceFreeBytes: number; deviceTotalBytes: number };
  /**
   * @internal Benchmarks only (bench/): seconds per call, one entry per rep,
   * of the backend's own batched GEMM C = A B (row-major, beta 0) on
   * `batch` products of (m x k)(k x n).
   */
  benchBackendGemm(dtype: NativeDType, device: string, batch: number, m: number, n: number, k: number, reps: number): Float64Array;
}
