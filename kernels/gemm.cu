// Prefill matrix product, the fallback where cuBLAS is absent:
//   Y[m, n] = epilogue(X[m, k] · W[n, k]^T + bias[n])   nnl_gemm_*         (nn.Linear [out, in])
//   Y[m, n] = epilogue(X[m, k] · W[k, n] + bias[n])     nnl_gemm_conv1d_*  (GPT-2 Conv1D [in, out])
// epilogue: store, add into Y (fused residual) or gelu_new (nnl_store_epilogue).
// 64x64 output tiles, 16-deep k slices staged in shared memory (weights converted to fp32 on the
// way in), each of 256 threads computing a 4x4 block of outputs in fp32.
#include "nnl_common.cuh"

#define NNL_BM 64
#define NNL_BN 64
#define NNL_BK 16

// Block: exactly 256 threads (1-D). Grid: (ceil(n/64), ceil(m/64)); fewer blocks are fine
// (tiles are walked grid-stride). Any m, n, k. epilogue: NNL_EPILOGUE_* (0 store, 1 add into Y, 2 gelu_new).
template <typename T, bool CONV1D>
__device__ __forceinline__ void nnl_gemm_tiles(
    const float* __restrict__ x,   // [m, k]
    const void* w_,                // [n, k], or [k, n] when CONV1D
    const void* bias_,             // [n] or null
    float* y,                      // [m, n]
    int m, int n, int k, int epilogue)
{
    typedef nnl_type<T> L;
    const typename L::storage* w = (const typename L::storage*)w_;
    const typename L::storage* bias = (const typename L::storage*)bias_;
    __shared__ float xs[NNL_BK][NNL_BM + 4];
    __shared__ float ws[NNL_BK][NNL_BN + 4];
    int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
    int tilesN = (n + NNL_BN - 1) / NNL_BN, tilesM = (m + NNL_BM - 1) / NNL_BM;
    for (int tm = blockIdx.y; tm < tilesM; tm += gridDim.y)
        for (int tn = blockIdx.x; tn < tilesN; tn += gridDim.x)
        {
            int row0 = tm * NNL_BM, col0 = tn * NNL_BN;
            float acc[4][4];
#pragma unroll
            for (int i = 0; i < 4; i++)
#pragma unroll
                for (int j = 0; j < 4; j++) acc[i][j] = 0.0f;
            for (int k0 = 0; k0 < k; k0 += NNL_BK)
            {
#pragma unroll
                for (int e = 0; e < (NNL_BM * NNL_BK) / 256; e++)
                {
                    int idx = tid + 256 * e, r = idx / NNL_BK, kk = idx % NNL_BK;
                    int gr = row0 + r, gk = k0 + kk;
                    xs[kk][r] = gr < m && gk < k ? x[(size_t)gr * k + gk] : 0.0f;
                    if (!CONV1D)
                    {
                        int gc = col0 + r;
                        ws[kk][r] = gc < n && gk < k ? L::load(w, (size_t)gc * k + gk) : 0.0f;
                    }
                    else
                    {
                        // [k, n]: consecutive threads take consecutive columns of one k row.
                        int c = idx % NNL_BN, kr = idx / NNL_BN, gc = col0 + c, gk2 = k0 + kr;
                        ws[kr][c] = gc < n && gk2 < k ? L::load(w, (size_t)gk2 * n + gc) : 0.0f;
                    }
                }
                __syncthreads();
#pragma unroll
                for (int kk = 0; kk < NNL_BK; kk++)
                {
                    float a[4], b[4];
#pragma unroll
                    for (int i = 0; i < 4; i++) a[i] = xs[kk][ty + 16 * i];
#pragma unroll
                    for (int j = 0; j < 4; j++) b[j] = ws[kk][tx + 16 * j];
#pragma unroll
                    for (int i = 0; i < 4; i++)
#pragma unroll
                        for (int j = 0; j < 4; j++) acc[i][j] += a[i] * b[j];
                }
                __syncthreads();
            }
#pragma unroll
            for (int i = 0; i < 4; i++)
            {
                int gr = row0 + ty + 16 * i;
                if (gr >= m) continue;
#pragma unroll
                for (int j = 0; j < 4; j++)
                {
                    int gc = col0 + tx + 16 * j;
                    if (gc >= n) continue;
                    float v = acc[i][j] + (bias ? L::load(bias, gc) : 0.0f);
                    nnl_store_epilogue(y + (size_t)gr * n + gc, v, epilogue);
                }
            }
        }
}

template <typename T>
__device__ __forceinline__ void nnl_gemm_impl(const float* x, const void* w, const void* bias, float* y, int m, int n, int k, int epilogue)
{
    nnl_gemm_tiles<T, false>(x, w, bias, y, m, n, k, epilogue);
}

template <typename T>
__device__ __forceinline__ void nnl_gemm_conv1d_impl(const float* x, const void* w, const void* bias, float* y, int m, int n, int k, int epilogue)
{
    nnl_gemm_tiles<T, true>(x, w, bias, y, m, n, k, epilogue);
}

NNL_WEIGHT_ENTRIES(nnl_gemm_conv1d,
    (const float* x, const void* w, const void* bias, float* y, int m, int n, int k, int epilogue),
    (x, w, bias, y, m, n, k, epilogue))

NNL_WEIGHT_ENTRIES(nnl_gemm,
    (const float* x, const void* w, const void* bias, float* y, int m, int n, int k, int epilogue),
    (x, w, bias, y, m, n, k, epilogue))
