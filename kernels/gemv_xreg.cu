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
#define NNL_XR_THREADS 256   // most threads a block (the entries' launch bounds)

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

// One float from global memory (L2) to shared memory without a register (cp.async; sm_80).
__device__ __forceinline__ void nnl_xr_copy_async(float* dst, const float* src)
{
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4;" ::"r"(nnl_shared_address(dst)), "l"(src) : "memory");
}

// μ and 1/√(var + eps) of a row of k from its Σx and Σx² (RMSNorm: μ = 0, var = Σx²/k).
__device__ __forceinline__ void nnl_xr_norm_stats(float sx, float sq, int k, int rms, float eps, float& mu, float& rstd)
{
    float inv = __frcp_rn((float)k);
    mu = rms ? 0.0f : sx * inv;
    float var = fmaf(sq, inv, -mu * mu);
    rstd = rsqrtf(fmaxf(var, 0.0f) + eps);
}

// The norm a product applies to its x (NORM entries): y = epilogue(Σ_j W_j·norm(x)_j + bias) as
//   norm(x)_j = (x_j − μ)·r·γ_j + β_j  →  Σ_j W_j·norm(x)_j + bias = r·(Σ_j W_j·γ_j·x_j − μ·c) + d
// with c = Σ_j W_j·γ_j and d = Σ_j W_j·β_j + bias, constants of the weights (nnl_norm_fold_constants,
// computed once per product). So the product streams its weights against γ∘x from the start, and
// μ and r = 1/√(var + eps) are needed only where a row's sum is stored: each warp takes its slice's
// Σx and Σx² while loading x, the slices' sums meet in shared memory behind the barrier the slices'
// partial sums already wait at (one slice: the warp has them all), so the norm adds no launch, no
// barrier and no round trip to the chain. RMSNorm: μ = 0, c unused. One-pass variance from fp32
// sums: a residual stream's mean is small against its spread.
struct nnl_xr_fold
{
    const void* gamma;       // [k] the norm's weight, the weights' type
    const float* c;          // [n_out] Σ_j W_j·γ_j (LayerNorm; null for RMSNorm)
    const float* d;          // [n_out] Σ_j W_j·β_j + bias
    int rms;                 // 0 LayerNorm, 1 RMSNorm
    float eps;
};

template <typename T, bool NORM>
__device__ __forceinline__ void nnl_gemv_xreg_impl(
    const void* w_,          // [n_out, k]
    const float* x,          // [1, k]
    const void* bias_,       // [n_out] or null (NORM: null, the bias is in fold.d)
    float* y,                // [1, n_out]
    int n_out, int k, int slices, int epilogue,
    nnl_xr_fold fold = nnl_xr_fold{})
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
    // The fold's row constants are asked of L2 now (L2 is where every kernel's writes meet, so this is
    // safe even in the step whose previous launch computes them) and read only after the wait: the
    // first step computes them in the launch just before this one.
    if (NORM)
    {
        if (lane == 0 && row < last)
        {
            if (fold.c) nnl_prefetch_l2(fold.c + row);
            nnl_prefetch_l2(fold.d + row);
        }
        if (turn == 0)
#pragma unroll
            for (int j = 0; j < NNL_XR_VPL; j++)
                if (lane + 32 * j < len && (lane & 7) == 0) nnl_prefetch_l2((const uint4*)fold.gamma + v0 + lane + 32 * j);
    }

    nnl_grid_begin();   // from here x may be read and y written

    // The epilogue thread r's c and d go to shared memory by cp.async (no register held across the rows).
    __shared__ float fold_cd[NORM ? 2 * NNL_XR_THREADS : 1];   // NORM: [c of row first + t][d of it], t < blockDim
    if (NORM && slices > 1 && (int)threadIdx.x < last - first)
    {
        if (fold.c) nnl_xr_copy_async(fold_cd + threadIdx.x, fold.c + first + threadIdx.x);
        nnl_xr_copy_async(fold_cd + NNL_XR_THREADS + threadIdx.x, fold.d + first + threadIdx.x);
        asm volatile("cp.async.commit_group;" ::: "memory");
    }

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
    __shared__ float slice_sums[NORM ? 2 * (NNL_XR_THREADS / 32) : 1];   // NORM: [slice] Σx, Σx², or one slice: [warp] μ, r (slices ≤ warps)
    if (NORM)
    {
        float sx = 0.0f, sq = 0.0f;
#pragma unroll
        for (int j = 0; j < NNL_XR_VPL; j++)
        {
            float g[W];
            if (lane + 32 * j < len) nnl_vec<T>::unpack(__ldg((const uint4*)fold.gamma + v0 + lane + 32 * j), g);
            else
#pragma unroll
                for (int e = 0; e < W; e++) g[e] = 0.0f;
#pragma unroll
            for (int e = 0; e < W; e++) { sx += xr[j][e]; sq += xr[j][e] * xr[j][e]; xr[j][e] *= g[e]; }
        }
        sx = nnl_warp_sum(sx);
        sq = nnl_warp_sum(sq);
        if (slices == 1 && lane == 0)
        {
            // Kept in shared memory, not registers, until lane 0 stores a row (read by the same thread).
            float mu, rstd;
            nnl_xr_norm_stats(sx, sq, k, fold.rms, fold.eps, mu, rstd);
            slice_sums[2 * warp] = mu;
            slice_sums[2 * warp + 1] = rstd;
        }
        else if (slices > 1 && turn == 0 && lane == 0) { slice_sums[2 * slice] = sx; slice_sums[2 * slice + 1] = sq; }
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
                if (NORM)
                    acc = slice_sums[2 * warp + 1] * (acc - (fold.c ? slice_sums[2 * warp] * __ldcg(fold.c + row) : 0.0f)) + __ldcg(fold.d + row);
                else if (bias) acc += L::load(bias, row);
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
        if (NORM) asm volatile("cp.async.wait_all;" ::: "memory");
        __syncthreads();
        float mu = 0.0f, rstd = 0.0f;
        if (NORM && (int)threadIdx.x < last - first)
        {
            float sx = 0.0f, sq = 0.0f;
            for (int i = 0; i < slices; i++) { sx += slice_sums[2 * i]; sq += slice_sums[2 * i + 1]; }
            nnl_xr_norm_stats(sx, sq, k, fold.rms, fold.eps, mu, rstd);
        }
        for (int r = threadIdx.x; r < last - first; r += blockDim.x)
        {
            float s = 0.0f;
            for (int i = 0; i < slices; i++) s += nnl_xr_partial[r * slices + i];
            if (NORM)
            {
                bool mine = r == (int)threadIdx.x;
                float c = fold.c ? (mine ? fold_cd[r] : __ldcg(fold.c + first + r)) : 0.0f;
                s = rstd * (s - mu * c) + (mine ? fold_cd[NNL_XR_THREADS + r] : __ldcg(fold.d + first + r));
            }
            else if (bias) s += r == (int)threadIdx.x ? bias_mine : L::load(bias, first + r);
            nnl_store_epilogue(y + first + r, s, epilogue);
        }
    }
}

// Three blocks of 256 threads an SM: up to 85 registers (x: 32 floats, two rows' vectors: 32).
#define NNL_XR_PARAMS (const void* w, const float* x, const void* bias, float* y, int n_out, int k, int slices, int epilogue)
#define NNL_XR_ARGS (w, x, bias, y, n_out, k, slices, epilogue)
extern "C" __global__ void __launch_bounds__(NNL_XR_THREADS, 3) nnl_gemv_xreg_f16 NNL_XR_PARAMS { nnl_gemv_xreg_impl<nnl_f16_t, false> NNL_XR_ARGS; }
extern "C" __global__ void __launch_bounds__(NNL_XR_THREADS, 3) nnl_gemv_xreg_bf16 NNL_XR_PARAMS { nnl_gemv_xreg_impl<nnl_bf16_t, false> NNL_XR_ARGS; }
extern "C" __global__ void __launch_bounds__(NNL_XR_THREADS, 3) nnl_gemv_xreg_f32 NNL_XR_PARAMS { nnl_gemv_xreg_impl<nnl_f32_t, false> NNL_XR_ARGS; }

// With the norm folded in (see nnl_xr_fold): the product of a NormMatMul without the norm's launch.
// Three blocks an SM, as the plain product: nothing of the fold stays in a register across the rows
// (c and d wait in shared memory, one slice's μ and r too), so it fits 80 registers (4 bytes spilled).
// Holding them in registers took 90: two blocks an SM, and the GPT-2-XL step 1.469 against 1.443
// ms/token; held to 80 that way it spilled 28 bytes (1.490 against 1.469) (H200, 2026-11-22).
#define NNL_XRN_PARAMS (const void* w, const float* x, float* y, int n_out, int k, int slices, int epilogue, \
    const void* gamma, const float* c, const float* d, int rms, float eps)
#define NNL_XRN_ARGS (w, x, nullptr, y, n_out, k, slices, epilogue, nnl_xr_fold{gamma, c, d, rms, eps})
extern "C" __global__ void __launch_bounds__(NNL_XR_THREADS, 3) nnl_gemv_xregn_f16 NNL_XRN_PARAMS { nnl_gemv_xreg_impl<nnl_f16_t, true> NNL_XRN_ARGS; }
extern "C" __global__ void __launch_bounds__(NNL_XR_THREADS, 3) nnl_gemv_xregn_bf16 NNL_XRN_PARAMS { nnl_gemv_xreg_impl<nnl_bf16_t, true> NNL_XRN_ARGS; }
extern "C" __global__ void __launch_bounds__(NNL_XR_THREADS, 3) nnl_gemv_xregn_f32 NNL_XRN_PARAMS { nnl_gemv_xreg_impl<nnl_f32_t, true> NNL_XRN_ARGS; }

// The fold's constants of a product and its norm, once per product: c[r] = Σ_j W[r,j]·γ_j (LayerNorm uses it),
// d[r] = Σ_j W[r,j]·β_j + bias[r] (β, bias optional), in double. A warp a row; any grid.
template <typename T>
__device__ __forceinline__ void nnl_norm_fold_constants_impl(const void* w_, const void* gamma_, const void* beta_, const void* bias_,
                                                             float* c, float* d, int n_out, int k)
{
    typedef nnl_type<T> L;
    typedef typename L::storage S;
    const S* w = (const S*)w_;
    const S* gamma = (const S*)gamma_;
    const S* beta = (const S*)beta_;
    int lane = threadIdx.x & 31;
    for (size_t r = nnl_global_thread() >> 5; r < (size_t)n_out; r += nnl_grid_threads() >> 5)
    {
        double sc = 0.0, sd = 0.0;
        for (int j = lane; j < k; j += 32)
        {
            double wj = L::load(w, (size_t)r * k + j);
            sc += wj * L::load(gamma, j);
            if (beta) sd += wj * L::load(beta, j);
        }
        for (int o = 16; o > 0; o >>= 1)
        {
            sc += __shfl_xor_sync(0xffffffffu, sc, o);
            sd += __shfl_xor_sync(0xffffffffu, sd, o);
        }
        if (lane == 0)
        {
            if (c) c[r] = (float)sc;
            d[r] = (float)(sd + (bias_ ? (double)L::load((const S*)bias_, r) : 0.0));
        }
    }
}
NNL_WEIGHT_ENTRIES(nnl_norm_fold_constants, (const void* w, const void* gamma, const void* beta, const void* bias, float* c, float* d, int n_out, int k),
    (w, gamma, beta, bias, c, d, n_out, k))

