// Decode matrix-vector product, the kernel that decides resident decode speed:
//   y[t, j] (+)= sum_i W[j, i] * x[t, i] + bias[j]     for a few tokens t.
// W is nn.Linear's [out, in] (GPT-2's Conv1D [in, out] has its own kernel, gemv_conv1d.cu).
// One warp per output row; each lane streams 16-byte vectors of the row (8 fp16/bf16
// or 4 fp32 weights) with several loads in flight, converts them to fp32 and accumulates in fp32.
// The weights are read once per call however many tokens there are (up to 4 per pass).
#include "nnl_common.cuh"

#define NNL_GEMV_UNROLL 4   // 16-byte loads in flight per lane

template <typename T, int NT>
__device__ __forceinline__ void nnl_gemv_rows(
    const typename nnl_type<T>::storage* __restrict__ w, const float* __restrict__ x,
    const typename nnl_type<T>::storage* __restrict__ bias, float* __restrict__ y,
    int n_out, int k, int accumulate, bool vector_path)
{
    typedef nnl_type<T> L;
    const int W = nnl_vec<T>::width;
    int lane = threadIdx.x & 31;
    int warps_per_block = blockDim.x >> 5;
    int warp = blockIdx.x * warps_per_block + (threadIdx.x >> 5);
    int total_warps = gridDim.x * warps_per_block;
    for (int row = warp; row < n_out; row += total_warps)
    {
        const typename L::storage* wr = w + (size_t)row * k;
        float acc[NT];
#pragma unroll
        for (int t = 0; t < NT; t++) acc[t] = 0.0f;
        if (vector_path)
        {
            int nv = k / W;
            const uint4* wv = (const uint4*)wr;
            for (int base = lane; base < nv; base += 32 * NNL_GEMV_UNROLL)
            {
                uint4 q[NNL_GEMV_UNROLL];
#pragma unroll
                for (int u = 0; u < NNL_GEMV_UNROLL; u++)
                    if (base + 32 * u < nv) q[u] = nnl_load_stream(wv + base + 32 * u);
#pragma unroll
                for (int u = 0; u < NNL_GEMV_UNROLL; u++)
                {
                    int v = base + 32 * u;
                    if (v < nv)
                    {
                        float f[nnl_vec<T>::width];
                        nnl_vec<T>::unpack(q[u], f);
#pragma unroll
                        for (int t = 0; t < NT; t++)
                        {
                            const float4* xv = (const float4*)(x + (size_t)t * k + (size_t)v * W);
#pragma unroll
                            for (int e = 0; e < W / 4; e++)
                            {
                                float4 xx = __ldg(xv + e);
                                acc[t] += f[4 * e] * xx.x + f[4 * e + 1] * xx.y + f[4 * e + 2] * xx.z + f[4 * e + 3] * xx.w;
                            }
                        }
                    }
                }
            }
        }
        else
        {
            for (int i = lane; i < k; i += 32)
            {
                float wi = L::load(wr, i);
#pragma unroll
                for (int t = 0; t < NT; t++) acc[t] += wi * __ldg(x + (size_t)t * k + i);
            }
        }
        float b = bias ? L::load(bias, row) : 0.0f;
#pragma unroll
        for (int t = 0; t < NT; t++)
        {
            float s = nnl_warp_sum(acc[t]) + b;
            if (lane == 0)
            {
                float* yp = y + (size_t)t * n_out + row;
                *yp = accumulate ? *yp + s : s;
            }
        }
    }
}

// Block: a multiple of 32 threads (256 suggested: 8 rows at a time per block); grid: enough
// blocks to cover n_out rows once (ceil(n_out / 8) for 256 threads), fewer is fine (grid-stride).
// accumulate != 0 adds into y (fused residual). The 16-byte path needs k a multiple of 8 (4 for
// fp32) and 16-byte aligned w and x; otherwise a scalar path gives the same result, slower.
template <typename T>
__device__ __forceinline__ void nnl_gemv_impl(
    const void* w_,          // [n_out, k]
    const float* x,          // [n_tok, k]
    const void* bias_,       // [n_out] or null
    float* y,                // [n_tok, n_out]
    int n_out, int k, int n_tok, int accumulate)
{
    typedef typename nnl_type<T>::storage S;
    const S* w = (const S*)w_;
    const S* bias = (const S*)bias_;
    bool vector_path = k % nnl_vec<T>::width == 0 && nnl_aligned16(w) && nnl_aligned16(x);
    for (int t0 = 0; t0 < n_tok; t0 += 4)
    {
        const float* xt = x + (size_t)t0 * k;
        float* yt = y + (size_t)t0 * n_out;
        switch (n_tok - t0)
        {
            case 1: nnl_gemv_rows<T, 1>(w, xt, bias, yt, n_out, k, accumulate, vector_path); break;
            case 2: nnl_gemv_rows<T, 2>(w, xt, bias, yt, n_out, k, accumulate, vector_path); break;
            case 3: nnl_gemv_rows<T, 3>(w, xt, bias, yt, n_out, k, accumulate, vector_path); break;
            default: nnl_gemv_rows<T, 4>(w, xt, bias, yt, n_out, k, accumulate, vector_path); break;
        }
    }
}

NNL_WEIGHT_ENTRIES(nnl_gemv,
    (const void* w, const float* x, const void* bias, float* y, int n_out, int k, int n_tok, int accumulate),
    (w, x, bias, y, n_out, k, n_tok, accumulate))
