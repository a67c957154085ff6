// Decode matrix-vector product for one token with the input held in registers:
//   y = epilogue(x·Wᵀ + bias)     W nn.Linear's [n_out, k], one token
// Why: GPT-2-XL's products (1600 or 6400 wide, 5-20 MB) give 150-400 blocks of the row kernels
// (gemv.cu), too few warps an SM to hide latency, and those kernels spend about 20-60 instructions
// on each 16-byte weight vector, two of them loads of x; so an SM moves about a third of its share
// of the copy rate (docs/performance.md, fifth session). Here a warp owns a fixed slice of the
// columns for every row it takes: its lanes load their slice of x into registers once, and then
// each 16-byte weight vector costs one load, the conversions and the FMAs.
// Layout: the row's 16-byte vectors are split into `slices` contiguous slices of at most
// 32·NNL_XR_VPL vectors; warp w of a block works on slice w % slices, and the warps of one slice
// (blockDim / 32 / slices of them) take the block's rows in turn. Block b owns rows
// [n_out·b/G, n_out·(b+1)/G). Each warp keeps the next row's vectors in flight while it sums the
// current one; its lanes' sums meet in nnl_warp_sum, and with more than one slice the slices'
// sums meet in shared memory and are added in slice order with the bias: results do not depend on
// timing. The first row's weights are requested before nnl_grid_begin (weights no kernel writes).
// Launch: blockDim 32·slices·(warps a slice), at most 256; grid any; dynamic shared memory
// (rows a block at most)·slices floats when slices > 1. Needs k a multiple of the vector width
// (8 fp16/bf16, 4 fp32), 32·NNL_XR_VPL·slices ≥ k / width, and w and x 16-byte aligned: the host
// checks, and takes another variant otherwise.
#include "nnl_common.cuh"

#define NNL_XR_VPL 4   // 16-byte vectors of its slice of a row a lane covers

extern __shared__ float nnl_xr_partial[];   // [rows of the block][slices], slices > 1

// This lane's vectors of one row's slice (zeros past the slice's end).
__device__ __forceinline__ void nnl_xr_load(uint4 (&q)[NNL_XR_VPL], const uint4* slice, int lane, int len)
{
#pragma unroll
    for (int j = 0; j < NNL_XR_VPL; j++)
    {
        if (lane + 32 * j < len) q[j] = nnl_load_stream(slice + lane + 32 * j);
        else { q[j].x = 0u; q[j].y = 0u; q[j].z = 0u; q[j].w = 0u; }
    }
}

template <typename T>
__device__ __forceinline__ void nnl_gemv_xreg_impl(
    const void* w_,          // [n_out, k]
    const float* x,          // [1, k]
    const void* bias_,       // [n_out] or null
    float* y,                // [1, n_out]
    int n_out, int k, int slices, int epilogue)
{
    typedef nnl_type<T> L;
    typedef typename L::storage S;
    const int W = nnl_vec<T>::width;
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    int per_slice = (int)(blockDim.x >> 5) / slices;   // warps that share a slice
    int slice = warp % slices, turn = warp / slices;
    int vpr = k / W;
    int v0 = (int)((long long)vpr * slice / slices);
    int len = (int)((long long)vpr * (slice + 1) / slices) - v0;
    int first = (int)((long long)n_out * blockIdx.x / gridDim.x);
    int last = (int)((long long)n_out * (blockIdx.x + 1) / gridDim.x);
    const uint4* wv = (const uint4*)w_ + v0;          // row r's slice: wv + r·vpr

    int row = first + turn;
    uint4 cur[NNL_XR_VPL];
    if (row < last) nnl_xr_load(cur, wv + (size_t)row * vpr, lane, len);
    // The bias is a weight too: asked for before the wait, it is no DRAM round trip in the block's
    // last step. With slices the epilogue's thread r adds row first + r's (r < blockDim.x: in a
    // register); a row at a time, lane 0 adds its rows' (into L2).
    const S* bias = (const S*)bias_;
    float bias_mine = 0.0f;
    if (bias && slices > 1 && (int)threadIdx.x < last - first) bias_mine = L::load(bias, first + threadIdx.x);
    if (bias && slices == 1 && lane == 0 && row < last) nnl_prefetch_l2(bias + row);

    nnl_grid_begin();   // from here x may be read and y written

    float xr[NNL_XR_VPL][W];
#pragma unroll
    for (int j = 0; j < NNL_XR_VPL; j++)
    {
        int v = lane + 32 * j;
#pragma unroll
        for (int e = 0; e < W / 4; e++)
        {
            float4 a = v < len ? __ldg((const float4*)(x + (size_t)(v0 + v) * W) + e) : float4{0.0f, 0.0f, 0.0f, 0.0f};
            xr[j][4 * e] = a.x; xr[j][4 * e + 1] = a.y; xr[j][4 * e + 2] = a.z; xr[j][4 * e + 3] = a.w;
        }
    }
    for (; row < last; row += per_slice)
    {
        uint4 next[NNL_XR_VPL];
        if (row + per_slice < last) nnl_xr_load(next, wv + (size_t)(row + per_slice) * vpr, lane, len);
        float acc = 0.0f;
#pragma unroll
        for (int j = 0; j < NNL_XR_VPL; j++)
        {
            float f[W];
            nnl_vec<T>::unpack(cur[j], f);
#pragma unroll
            for (int e = 0; e < W; e++) acc += f[e] * xr[j][e];
        }
        acc = nnl_warp_sum(acc);
        if (lane == 0)
        {
            if (slices == 1)
            {
                if (bias) acc += L::load(bias, row);
                nnl_store_epilogue(y + row, acc, epilogue);
            }
            else nnl_xr_partial[(row - first) * slices + slice] = acc;
        }
        // After the last row `next` was never loaded and the copy is unused. Guarding it (a flag
        // for whether next was loaded) made the GPT-2-XL step slower on the H200 (1.90 against
        // 1.83 ms/token, 2026-11-21): the unconditional copy is register renaming, free.
#pragma unroll
        for (int j = 0; j < NNL_XR_VPL; j++) cur[j] = next[j];
    }
    if (slices > 1)
    {
        __syncthreads();
        for (int r = threadIdx.x; r < last - first; r += blockDim.x)
        {
            float s = 0.0f;
            for (int i = 0; i < slices; i++) s += nnl_xr_partial[r * slices + i];
            if (bias) s += r == (int)threadIdx.x ? bias_mine : L::load(bias, first + r);
            nnl_store_epilogue(y + first + r, s, epilogue);
        }
    }
}

// Three blocks of 256 threads an SM: up to 85 registers (x: 32 floats, two rows' vectors: 32).
#define NNL_XR_PARAMS (const void* w, const float* x, const void* bias, float* y, int n_out, int k, int slices, int epilogue)
#define NNL_XR_ARGS (w, x, bias, y, n_out, k, slices, epilogue)
extern "C" __global__ void __launch_bounds__(256, 3) nnl_gemv_xreg_f16 NNL_XR_PARAMS { nnl_gemv_xreg_impl<nnl_f16_t> NNL_XR_ARGS; }
extern "C" __global__ void __launch_bounds__(256, 3) nnl_gemv_xreg_bf16 NNL_XR_PARAMS { nnl_gemv_xreg_impl<nnl_bf16_t> NNL_XR_ARGS; }
extern "C" __global__ void __launch_bounds__(256, 3) nnl_gemv_xreg_f32 NNL_XR_PARAMS { nnl_gemv_xreg_impl<nnl_f32_t> NNL_XR_ARGS; }
