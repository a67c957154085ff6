// The decode matrix-vector product's building blocks, shared by gemv.cu (y = x·Wᵀ) and
// gemv_norm.cu (the norm fused in front):
//   y[t, j] = epilogue(sum_i W[j, i] * x[t, i] + bias[j])     for a few tokens t
// (epilogue: store, add into y, or gelu_new; nnl_store_epilogue).
// W is nn.Linear's [out, in] (GPT-2's Conv1D [in, out] has its own kernel, gemv_conv1d.cu).
// One warp per R output rows (1, 2 or 4: one entry each), or, for matrices of few rows, one block
// per R rows with k split over its threads (nnl_gemv_b*); each lane streams 16-byte vectors of
// the rows (8 fp16/bf16 or 4 fp32 weights) with several loads in flight, converts them to fp32
// and accumulates in fp32.
// The weights are read once per call however many tokens there are (up to 4 per pass).
#pragma once
#include "nnl_common.cuh"

// x lives in global memory (read through the read-only cache, ld.global.nc) or, in gemv_norm.cu,
// in shared memory, where ld.global.nc would be invalid: a plain load.
template <bool XS>
__device__ __forceinline__ float4 nnl_gemv_load_x4(const float4* p)
{
    if constexpr (XS) return *p;
    else return __ldg(p);
}
template <bool XS>
__device__ __forceinline__ float nnl_gemv_load_x(const float* p)
{
    if constexpr (XS) return *p;
    else return __ldg(p);
}

// Adds this thread's share of R consecutive rows (from row0) times NT tokens of x into acc: the
// thread is number `part` of `parts` that split the row's 16-byte vectors (elements on the scalar
// path) between them, U vectors of each row in flight at once. Rows past n_out add nothing.
// XS: x is in shared memory (nnl_gemv_load_x4).
template <typename T, int NT, int R, int U, bool XS>
__device__ __forceinline__ void nnl_gemv_partial(
    const typename nnl_type<T>::storage* __restrict__ w, const float* __restrict__ x,
    int row0, int n_out, int k, bool vector_path, int part, int parts, float (&acc)[R][NT])
{
    typedef nnl_type<T> L;
    const int W = nnl_vec<T>::width;
    if (vector_path)
    {
        int nv = k / W;
        for (int base = part; base < nv; base += parts * U)
        {
            uint4 q[U][R];
#pragma unroll
            for (int u = 0; u < U; u++)
#pragma unroll
                for (int r = 0; r < R; r++)
                    if (base + parts * u < nv && row0 + r < n_out)
                        q[u][r] = nnl_load_stream((const uint4*)(w + (size_t)(row0 + r) * k) + base + parts * u);
#pragma unroll
            for (int u = 0; u < U; u++)
            {
                int v = base + parts * u;
                if (v < nv)
                {
                    float f[R][nnl_vec<T>::width];
#pragma unroll
                    for (int r = 0; r < R; r++)
                    {
                        if (row0 + r < n_out) nnl_vec<T>::unpack(q[u][r], f[r]);
                        else
#pragma unroll
                            for (int e = 0; e < W; e++) f[r][e] = 0.0f;
                    }
#pragma unroll
                    for (int t = 0; t < NT; t++)
                    {
                        const float4* xv = (const float4*)(x + (size_t)t * k + (size_t)v * W);
#pragma unroll
                        for (int e = 0; e < W / 4; e++)
                        {
                            float4 xx = nnl_gemv_load_x4<XS>(xv + e);
#pragma unroll
                            for (int r = 0; r < R; r++)
                                acc[r][t] += f[r][4 * e] * xx.x + f[r][4 * e + 1] * xx.y + f[r][4 * e + 2] * xx.z + f[r][4 * e + 3] * xx.w;
                        }
                    }
                }
            }
        }
    }
    else
    {
        for (int i = part; i < k; i += parts)
        {
#pragma unroll
            for (int r = 0; r < R; r++)
            {
                float wi = row0 + r < n_out ? L::load(w + (size_t)(row0 + r) * k, i) : 0.0f;
#pragma unroll
                for (int t = 0; t < NT; t++) acc[r][t] += wi * nnl_gemv_load_x<XS>(x + (size_t)t * k + i);
            }
        }
    }
}

// One warp owns R consecutive output rows: each x vector it loads serves R rows (R times less
// x traffic per weight byte) and R * U weight vectors per lane are in flight at once.
template <typename T, int NT, int R, int U, bool XS>
__device__ __forceinline__ void nnl_gemv_rows(
    const typename nnl_type<T>::storage* __restrict__ w, const float* __restrict__ x,
    const typename nnl_type<T>::storage* __restrict__ bias, float* __restrict__ y,
    int n_out, int k, int epilogue, bool vector_path)
{
    typedef nnl_type<T> L;
    int lane = threadIdx.x & 31;
    int warps_per_block = blockDim.x >> 5;
    int warp = blockIdx.x * warps_per_block + (threadIdx.x >> 5);
    int total_warps = gridDim.x * warps_per_block;
    for (int row0 = warp * R; row0 < n_out; row0 += total_warps * R)
    {
        float acc[R][NT];
#pragma unroll
        for (int r = 0; r < R; r++)
#pragma unroll
            for (int t = 0; t < NT; t++) acc[r][t] = 0.0f;
        nnl_gemv_partial<T, NT, R, U, XS>(w, x, row0, n_out, k, vector_path, lane, 32, acc);
#pragma unroll
        for (int r = 0; r < R; r++)
        {
            int row = row0 + r;
            float b = bias && row < n_out ? L::load(bias, row) : 0.0f;
#pragma unroll
            for (int t = 0; t < NT; t++)
            {
                float s = nnl_warp_sum(acc[r][t]) + b;
                if (lane == 0 && row < n_out) nnl_store_epilogue(y + (size_t)t * n_out + row, s, epilogue);
            }
        }
    }
}

// Split-k: a whole block owns R consecutive output rows and its threads share out each row's
// vectors, so a short matrix (GPT-2-XL's [1600, 6400]: 1600 rows) still gives every SM several
// blocks with many loads in flight, and a short row (k = 1600: 200 vectors) is one load per
// thread per row instead of a serial chain. Warp sums meet in shared memory (`red`: 32 * R * NT
// floats) and are added in warp order, so the result does not depend on timing.
template <typename T, int NT, int R, int U, bool XS>
__device__ __forceinline__ void nnl_gemv_block_rows(
    const typename nnl_type<T>::storage* __restrict__ w, const float* __restrict__ x,
    const typename nnl_type<T>::storage* __restrict__ bias, float* __restrict__ y,
    int n_out, int k, int epilogue, bool vector_path, float* red)
{
    typedef nnl_type<T> L;
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = (blockDim.x + 31) >> 5;
    for (int row0 = blockIdx.x * R; row0 < n_out; row0 += gridDim.x * R)
    {
        float acc[R][NT];
#pragma unroll
        for (int r = 0; r < R; r++)
#pragma unroll
            for (int t = 0; t < NT; t++) acc[r][t] = 0.0f;
        nnl_gemv_partial<T, NT, R, U, XS>(w, x, row0, n_out, k, vector_path, threadIdx.x, blockDim.x, acc);
#pragma unroll
        for (int r = 0; r < R; r++)
#pragma unroll
            for (int t = 0; t < NT; t++)
            {
                float s = nnl_warp_sum(acc[r][t]);
                if (lane == 0) red[warp * (R * NT) + r * NT + t] = s;
            }
        __syncthreads();
        if (threadIdx.x < R * NT)
        {
            int r = threadIdx.x / NT, t = threadIdx.x % NT, row = row0 + r;
            float s = 0.0f;
            for (int i = 0; i < warps; i++) s += red[i * (R * NT) + threadIdx.x];
            if (row < n_out)
            {
                if (bias) s += L::load(bias, row);
                nnl_store_epilogue(y + (size_t)t * n_out + row, s, epilogue);
            }
        }
        __syncthreads();   // red is read before the next rows overwrite it
    }
}

// Asks L2 for the weight rows of this block's first pass, one 128-byte line per thread and step (a
// hint: no register, no wait; weights no kernel of a step writes, so this may run before
// nnl_grid_begin(); L2 is where device memory is coherent, so a line is never stale). The fused
// norm GEMV issues it before it normalises.
template <typename T, int R, bool BLOCK>
__device__ __forceinline__ void nnl_gemv_prefetch_rows(const void* w_, int n_out, int k)
{
    typedef typename nnl_type<T>::storage S;
    int rows = BLOCK ? R : (int)(blockDim.x >> 5) * R;
    int row0 = blockIdx.x * rows;
    if (row0 < n_out)
    {
        const char* p = (const char*)((const S*)w_ + (size_t)row0 * k);
        nnl_u64 bytes = (nnl_u64)min(rows, n_out - row0) * k * sizeof(S);
        for (nnl_u64 off = (nnl_u64)threadIdx.x * 128; off < bytes; off += (nnl_u64)blockDim.x * 128)
            asm volatile("prefetch.global.L2 [%0];" ::"l"(p + off));
    }
}

// The product, once the kernel has begun (nnl_grid_begin: x and y may be read and written).
// Block: a multiple of 32 threads (256 suggested: 8 warps, 8 R rows at a time per block); grid:
// enough blocks to cover n_out rows once (ceil(n_out / (8 R)) for 256 threads), fewer is fine
// (grid-stride).
// epilogue: 0 stores, 1 adds into y (fused residual), 2 stores gelu_new (NNL_EPILOGUE_*). The 16-byte path needs k a multiple of 8 (4 for
// fp32) and 16-byte aligned w and x; otherwise a scalar path gives the same result, slower.
// XS: x is in shared memory (gemv_norm.cu).
template <typename T, int R, int U, bool BLOCK, bool XS>
__device__ __forceinline__ void nnl_gemv_begun(
    const void* w_,          // [n_out, k]
    const float* x,          // [n_tok, k]
    const void* bias_,       // [n_out] or null
    float* y,                // [n_tok, n_out]
    int n_out, int k, int n_tok, int epilogue)
{
    typedef typename nnl_type<T>::storage S;
    const S* w = (const S*)w_;
    const S* bias = (const S*)bias_;
    bool vector_path = k % nnl_vec<T>::width == 0 && nnl_aligned16(w) && nnl_aligned16(x);
    for (int t0 = 0; t0 < n_tok; t0 += 4)
    {
        const float* xt = x + (size_t)t0 * k;
        float* yt = y + (size_t)t0 * n_out;
        if (BLOCK)
        {
            __shared__ float red[32 * R * 4];
            switch (n_tok - t0)
            {
                case 1: nnl_gemv_block_rows<T, 1, R, U, XS>(w, xt, bias, yt, n_out, k, epilogue, vector_path, red); break;
                case 2: nnl_gemv_block_rows<T, 2, R, U, XS>(w, xt, bias, yt, n_out, k, epilogue, vector_path, red); break;
                case 3: nnl_gemv_block_rows<T, 3, R, U, XS>(w, xt, bias, yt, n_out, k, epilogue, vector_path, red); break;
                default: nnl_gemv_block_rows<T, 4, R, U, XS>(w, xt, bias, yt, n_out, k, epilogue, vector_path, red); break;
            }
        }
        else
            switch (n_tok - t0)
            {
                case 1: nnl_gemv_rows<T, 1, R, U, XS>(w, xt, bias, yt, n_out, k, epilogue, vector_path); break;
                case 2: nnl_gemv_rows<T, 2, R, U, XS>(w, xt, bias, yt, n_out, k, epilogue, vector_path); break;
                case 3: nnl_gemv_rows<T, 3, R, U, XS>(w, xt, bias, yt, n_out, k, epilogue, vector_path); break;
                default: nnl_gemv_rows<T, 4, R, U, XS>(w, xt, bias, yt, n_out, k, epilogue, vector_path); break;
            }
    }
}

// A whole GEMV entry: begins (nnl_grid_begin), then the product. (No L2 prefetch of the rows
// before the wait here: on the H200 it made GPT-2-XL's decode step 15 % slower, nnl_common.cuh.)
template <typename T, int R, int U, bool BLOCK>
__device__ __forceinline__ void nnl_gemv_tiled(
    const void* w, const float* x, const void* bias, float* y, int n_out, int k, int n_tok, int epilogue)
{
    nnl_grid_begin();
    nnl_gemv_begun<T, R, U, BLOCK, false>(w, x, bias, y, n_out, k, n_tok, epilogue);
}
