// Decode matrix-vector product for GPT-2's Conv1D weights, stored [in, out]:
//   y[t, j] = epilogue(sum_i x[t, i] * W[i, j] + bias[j])   (store, add into y, or gelu_new)
// A row of W holds consecutive outputs, so a warp reads 256 consecutive columns of one row (each
// lane one 16-byte vector: 8 outputs) and the block's 8 warps take interleaved rows of its k range.
// The out dimension alone gives too few blocks for small models (GPT-2-XL: 1600 columns = 7
// blocks), so k is split over gridDim.y; each split writes partial sums, and the last block of a
// column range to finish (an atomic counter per range) adds the splits in split order with the
// bias: one launch, deterministic results.
#include "nnl_common.cuh"

#define NNL_C1_WARPS 8
#define NNL_C1_COLS 256       // columns per block: 32 lanes x 8
#define NNL_C1_UNROLL 4       // rows in flight per warp

template <typename T, int NT>
__device__ __forceinline__ void nnl_gemv_conv1d_tokens(
    const typename nnl_type<T>::storage* __restrict__ w, const float* __restrict__ x, float* __restrict__ partial,
    int n, int k, int n_tok_total, int rows_per_split, bool vector_path, float (*red)[NNL_C1_COLS])
{
    typedef nnl_type<T> L;
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    int col0 = blockIdx.x * NNL_C1_COLS;
    int split = blockIdx.y;
    int rb = split * rows_per_split, re = min(k, rb + rows_per_split);
    float acc[NT][8];
#pragma unroll
    for (int t = 0; t < NT; t++)
#pragma unroll
        for (int e = 0; e < 8; e++) acc[t][e] = 0.0f;
    if (vector_path)
    {
        // 16-bit weights: one uint4 = 8 columns (lane*8 .. lane*8+7). fp32 weights take two.
        const int V = 8 / nnl_vec<T>::width;       // vectors per lane per row (1, or 2 for fp32)
        int c = col0 + lane * 8;
        bool active = c < n;                       // n % 8 == 0 on this path, so c+7 < n too
        for (int i0 = rb + warp; i0 < re; i0 += NNL_C1_WARPS * NNL_C1_UNROLL)
        {
            uint4 q[NNL_C1_UNROLL][V];
#pragma unroll
            for (int u = 0; u < NNL_C1_UNROLL; u++)
            {
                int i = i0 + u * NNL_C1_WARPS;
                if (active && i < re)
#pragma unroll
                    for (int v = 0; v < V; v++) q[u][v] = nnl_load_stream(w + (size_t)i * n + c + v * nnl_vec<T>::width);
            }
#pragma unroll
            for (int u = 0; u < NNL_C1_UNROLL; u++)
            {
                int i = i0 + u * NNL_C1_WARPS;
                if (active && i < re)
                {
                    float f[8];
#pragma unroll
                    for (int v = 0; v < V; v++) nnl_vec<T>::unpack(q[u][v], f + v * nnl_vec<T>::width);
#pragma unroll
                    for (int t = 0; t < NT; t++)
                    {
                        float xi = __ldg(x + (size_t)t * k + i);
#pragma unroll
                        for (int e = 0; e < 8; e++) acc[t][e] += xi * f[e];
                    }
                }
            }
        }
#pragma unroll
        for (int t = 0; t < NT; t++)
        {
            __syncthreads();
#pragma unroll
            for (int e = 0; e < 8; e++) red[warp][lane * 8 + e] = acc[t][e];
            __syncthreads();
            for (int lc = threadIdx.x; lc < NNL_C1_COLS; lc += blockDim.x)
            {
                float s = 0.0f;
                for (int wv = 0; wv < NNL_C1_WARPS; wv++) s += red[wv][lc];
                if (col0 + lc < n) partial[((size_t)split * n_tok_total + t) * n + col0 + lc] = s;
            }
        }
    }
    else
    {
        // Any n: lane takes columns lane, lane+32, ... (scalar loads, still coalesced per row).
        for (int i = rb + warp; i < re; i += NNL_C1_WARPS)
        {
            const typename L::storage* wr = w + (size_t)i * n;
#pragma unroll
            for (int e = 0; e < 8; e++)
            {
                int c = col0 + lane + 32 * e;
                float wi = c < n ? L::load(wr, c) : 0.0f;
#pragma unroll
                for (int t = 0; t < NT; t++) acc[t][e] += __ldg(x + (size_t)t * k + i) * wi;
            }
        }
#pragma unroll
        for (int t = 0; t < NT; t++)
        {
            __syncthreads();
#pragma unroll
            for (int e = 0; e < 8; e++) red[warp][lane + 32 * e] = acc[t][e];
            __syncthreads();
            for (int lc = threadIdx.x; lc < NNL_C1_COLS; lc += blockDim.x)
            {
                float s = 0.0f;
                for (int wv = 0; wv < NNL_C1_WARPS; wv++) s += red[wv][lc];
                if (col0 + lc < n) partial[((size_t)split * n_tok_total + t) * n + col0 + lc] = s;
            }
        }
    }
}

// Block: exactly 256 threads. Grid: (ceil(n / 256), splits) with rows_per_split = ceil(k / splits)
// (splits * rows_per_split >= k; aim for about 4 blocks per SM and >= 64 rows per split).
// counters: one zero word per column block (gridDim.x), left zero again by the launch. The 16-byte
// path needs n a multiple of 8 and w 16-byte aligned; otherwise a scalar path gives the same result.
template <typename T>
__device__ __forceinline__ void nnl_gemv_conv1d_impl(
    const void* w_,          // [k, n]
    const float* x,          // [n_tok, k]
    const void* bias_,       // [n] or null
    float* y,                // [n_tok, n]
    float* partial,          // [splits, n_tok, n] workspace
    nnl_u32* counters,       // [gridDim.x], zero before the launch
    int n, int k, int n_tok, int rows_per_split, int epilogue)
{
    __shared__ float red[NNL_C1_WARPS][NNL_C1_COLS];
    __shared__ bool last;
    typedef nnl_type<T> L;
    typedef typename L::storage S;
    const S* w = (const S*)w_;
    const S* bias = (const S*)bias_;
    bool vector_path = n % 8 == 0 && nnl_aligned16(w);
    for (int t0 = 0; t0 < n_tok; t0 += 4)
    {
        const float* xt = x + (size_t)t0 * k;
        float* pt = partial + (size_t)t0 * n;      // token offset inside each split's [n_tok, n]
        switch (n_tok - t0)
        {
            case 1: nnl_gemv_conv1d_tokens<T, 1>(w, xt, pt, n, k, n_tok, rows_per_split, vector_path, red); break;
            case 2: nnl_gemv_conv1d_tokens<T, 2>(w, xt, pt, n, k, n_tok, rows_per_split, vector_path, red); break;
            case 3: nnl_gemv_conv1d_tokens<T, 3>(w, xt, pt, n, k, n_tok, rows_per_split, vector_path, red); break;
            default: nnl_gemv_conv1d_tokens<T, 4>(w, xt, pt, n, k, n_tok, rows_per_split, vector_path, red); break;
        }
    }
    // Publish this block's partial sums, then count the finished splits of this column range.
    __threadfence();
    __syncthreads();
    if (threadIdx.x == 0) last = atomicAdd(counters + blockIdx.x, 1u) == gridDim.y - 1;
    __syncthreads();
    if (!last) return;
    __threadfence();
    int splits = gridDim.y, col0 = blockIdx.x * NNL_C1_COLS;
    const volatile float* vp = partial;            // written by other blocks: read through L2
    for (int i = threadIdx.x; i < n_tok * NNL_C1_COLS; i += blockDim.x)
    {
        int t = i / NNL_C1_COLS, col = col0 + i % NNL_C1_COLS;
        if (col >= n) continue;
        float s = bias ? L::load(bias, col) : 0.0f;
        for (int sp = 0; sp < splits; sp++) s += vp[((size_t)sp * n_tok + t) * n + col];
        nnl_store_epilogue(y + (size_t)t * n + col, s, epilogue);
    }
    if (threadIdx.x == 0) counters[blockIdx.x] = 0;  // ready for the next launch
}

NNL_WEIGHT_ENTRIES(nnl_gemv_conv1d,
    (const void* w, const float* x, const void* bias, float* y, float* partial, nnl_u32* counters,
     int n, int k, int n_tok, int rows_per_split, int epilogue),
    (w, x, bias, y, partial, counters, n, k, n_tok, rows_per_split, epilogue))
