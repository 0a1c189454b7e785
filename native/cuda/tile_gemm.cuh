// A small GEMM for one thread block, on shared (or any) memory: the
// building block of the fused per-matrix kernels (device code only).
#pragma once

namespace ortho::cuda {

/// Outputs per thread: kTileGemmTile x kTileGemmTile.
constexpr int kTileGemmTile = 4;

/// Thread tiles for a P x Q output.
inline int64_t tileGemmTiles(int64_t P, int64_t Q) {
  return ((P + kTileGemmTile - 1) / kTileGemmTile) * ((Q + kTileGemmTile - 1) / kTileGemmTile);
}

// C(p, q) = sum_r A(p, r) B(r, q) for P x Q outputs, A(p, r) = As[p * asp +
// r * asr], B(r, q) = Bs[r * bsr + q * bsq]; epi(p, q, value) stores.
// Thread tiles of kTileGemmTile x kTileGemmTile outputs, rows p0 + s * hp and
// columns q0 + s * hq (interleaved, so a warp reads neighbouring columns);
// each output sums over r in order (deterministic).
template <typename T, typename Epi>
__device__ inline void tileGemm(int P, int Q, int R, const T* As, int asp, int asr, const T* Bs, int bsr, int bsq,
                                Epi epi) {
  const int hp = (P + kTileGemmTile - 1) / kTileGemmTile, hq = (Q + kTileGemmTile - 1) / kTileGemmTile;
  for (int tile = threadIdx.x; tile < hp * hq; tile += blockDim.x) {
    const int p0 = tile / hq, q0 = tile % hq;
    T acc[kTileGemmTile][kTileGemmTile];
#pragma unroll
    for (int i = 0; i < kTileGemmTile; ++i)
#pragma unroll
      for (int j = 0; j < kTileGemmTile; ++j) acc[i][j] = T(0);
    for (int r = 0; r < R; ++r) {
      T a[kTileGemmTile], b[kTileGemmTile];
#pragma unroll
      for (int s = 0; s < kTileGemmTile; ++s) {
        const int p = p0 + s * hp, q = q0 + s * hq;
        a[s] = p < P ? As[p * asp + r * asr] : T(0);
        b[s] = q < Q ? Bs[r * bsr + q * bsq] : T(0);
      }
#pragma unroll
      for (int i = 0; i < kTileGemmTile; ++i)
#pragma unroll
        for (int j = 0; j < kTileGemmTile; ++j) acc[i][j] += a[i] * b[j];
    }
#pragma unroll
    for (int i = 0; i < kTileGemmTile; ++i)
#pragma unroll
      for (int j = 0; j < kTileGemmTile; ++j) {
        const int p = p0 + i * hp, q = q0 + j * hq;
        if (p < P && q < Q) epi(p, q, acc[i][j]);
      }
  }
}

}  // namespace ortho::cuda
