// Norm fused into the decode GEMV (the backend's NormMatMul): y = epilogue(Norm(x)·Wᵀ + bias), with
// Norm LayerNorm (GPT-2's ln_1 before c_attn, ln_2 before c_fc) or RMSNorm, W nn.Linear's [out, in].
// Each block first normalises the n_tok rows of x into shared memory (its own copy: blocks never
// wait for each other), then runs nnl_gemv.cuh's GEMV reading x from there: one launch where
// LayerNorm then GEMV took two. Before it normalises (before nnl_grid_begin, even), the block asks
// L2 for its weight rows, so the weight stream is under way while the block reduces. The norm's
// numbers are layernorm.cu's and rmsnorm.cu's: fp32, LayerNorm in two passes (mean, then the
// variance of x - mean), rstd = rsqrtf(mean square / k + eps), (x - mean) * rstd * weight (+ bias);
// the block size (and so the order of the sums) is the GEMV's, so results agree with the two
// launches within fp32 rounding, not bit for bit.
#include "nnl_gemv.cuh"

#define NNL_NORM_LAYER 0
#define NNL_NORM_RMS 1

extern __shared__ float4 nnl_norm_gemv_rows[];   // [n_tok, k] normalised rows (dynamic: n_tok * k floats)

// Sum across the block of four values at once (up to four rows share one pair of barriers); every
// thread gets the sums. `scratch` holds 4 * 32 floats of shared memory.
__device__ __forceinline__ void nnl_block_sum4(float (&v)[4], float* scratch)
{
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = (blockDim.x + 31) >> 5;
#pragma unroll
    for (int t = 0; t < 4; t++) v[t] = nnl_warp_sum(v[t]);
    __syncthreads();                       // scratch may still be read by a previous call
    if (lane == 0)
#pragma unroll
        for (int t = 0; t < 4; t++) scratch[t * 32 + warp] = v[t];
    __syncthreads();
#pragma unroll
    for (int t = 0; t < 4; t++) v[t] = nnl_warp_sum(lane < warps ? scratch[t * 32 + lane] : 0.0f);
}

// One normalised element, as layernorm.cu writes it (RMSNorm: mean 0, no bias).
template <typename T>
__device__ __forceinline__ float nnl_norm_element(float v, float mean, float rstd,
    const typename nnl_type<T>::storage* norm_weight, const typename nnl_type<T>::storage* norm_bias, int e)
{
    typedef nnl_type<T> L;
    float o = (v - mean) * rstd * L::load(norm_weight, e);
    if (norm_bias) o += L::load(norm_bias, e);
    return o;
}

// Normalises x [n_tok, k] into xs [n_tok, k] (shared memory), four rows per round. A thread reads,
// reduces and writes the same elements in every pass (float4 slices i = threadIdx.x + j·blockDim.x
// when k % 4 == 0 and x is 16-byte aligned, else single floats), so only the reductions and the
// final barrier synchronise.
template <typename T>
__device__ __forceinline__ void nnl_norm_rows_to_shared(
    const float* __restrict__ x, const typename nnl_type<T>::storage* __restrict__ norm_weight,
    const typename nnl_type<T>::storage* __restrict__ norm_bias, float* xs, int n_tok, int k, int norm, float eps)
{
    __shared__ float scratch[4 * 32];
    bool vec = (k & 3) == 0 && nnl_aligned16(x);
    int nvec = k >> 2;
    bool rms = norm == NNL_NORM_RMS;
    for (int t0 = 0; t0 < n_tok; t0 += 4)
    {
        int nt = min(4, n_tok - t0);
        float s[4] = {0.0f, 0.0f, 0.0f, 0.0f};
#pragma unroll
        for (int t = 0; t < 4; t++)
        {
            if (t >= nt) break;
            const float* xr = x + (size_t)(t0 + t) * k;
            float* sr = xs + (size_t)(t0 + t) * k;
            if (vec)
                for (int i = threadIdx.x; i < nvec; i += blockDim.x)
                {
                    float4 v = ((const float4*)xr)[i];
                    ((float4*)sr)[i] = v;
                    s[t] += rms ? (v.x * v.x + v.y * v.y) + (v.z * v.z + v.w * v.w) : (v.x + v.y) + (v.z + v.w);
                }
            else
                for (int i = threadIdx.x; i < k; i += blockDim.x)
                {
                    float v = xr[i];
                    sr[i] = v;
                    s[t] += rms ? v * v : v;
                }
        }
        nnl_block_sum4(s, scratch);
        float mean[4], rstd[4];
        if (rms)
        {
#pragma unroll
            for (int t = 0; t < 4; t++) { mean[t] = 0.0f; rstd[t] = rsqrtf(s[t] / k + eps); }
        }
        else
        {
            float q[4] = {0.0f, 0.0f, 0.0f, 0.0f};
#pragma unroll
            for (int t = 0; t < 4; t++)
            {
                mean[t] = s[t] / k;
                if (t >= nt) continue;
                const float* sr = xs + (size_t)(t0 + t) * k;
                if (vec)
                    for (int i = threadIdx.x; i < nvec; i += blockDim.x)
                    {
                        float4 v = ((const float4*)sr)[i];
                        float a = v.x - mean[t], b = v.y - mean[t], c = v.z - mean[t], d = v.w - mean[t];
                        q[t] += (a * a + b * b) + (c * c + d * d);
                    }
                else
                    for (int i = threadIdx.x; i < k; i += blockDim.x) { float d = sr[i] - mean[t]; q[t] += d * d; }
            }
            nnl_block_sum4(q, scratch);
#pragma unroll
            for (int t = 0; t < 4; t++) rstd[t] = rsqrtf(q[t] / k + eps);
        }
        // x - 0 is x exactly: RMSNorm's x * rstd * weight is the same expression with mean 0.
#pragma unroll
        for (int t = 0; t < 4; t++)
        {
            if (t >= nt) break;
            float* sr = xs + (size_t)(t0 + t) * k;
            if (vec)
                for (int i = threadIdx.x; i < nvec; i += blockDim.x)
#pragma unroll
                    for (int e = 4 * i; e < 4 * i + 4; e++)
                        sr[e] = nnl_norm_element<T>(sr[e], mean[t], rstd[t], norm_weight, norm_bias, e);
            else
                for (int e = threadIdx.x; e < k; e += blockDim.x)
                    sr[e] = nnl_norm_element<T>(sr[e], mean[t], rstd[t], norm_weight, norm_bias, e);
        }
    }
    __syncthreads();                       // the GEMV reads every thread's elements
}

// Block: as the GEMV variant it fuses (warp variants 256 threads; split-k ones 32..256). Dynamic
// shared memory: n_tok * k * 4 bytes (the host keeps it within 48 KB with the GEMV's own).
template <typename T, int R, int U, bool BLOCK>
__device__ __forceinline__ void nnl_norm_gemv_tiled(
    const void* w_,          // [n_out, k]
    const float* x,          // [n_tok, k] (not normalised)
    const void* norm_weight_,// [k]
    const void* norm_bias_,  // [k] or null (LayerNorm's shift; RMSNorm: null)
    const void* bias,        // [n_out] or null
    float* y,                // [n_tok, n_out]; must not overlap x
    int n_out, int k, int n_tok, int norm, float eps, int epilogue)
{
    typedef typename nnl_type<T>::storage S;
    // The weights stream into L2 while this block normalises (and, with programmatic dependent
    // launch, while the kernel before still runs). The plain GEMV (nnl_gemv_tiled) has no norm to
    // hide a prefetch behind and does without (nnl_common.cuh says what it cost).
    nnl_gemv_prefetch_rows<T, R, BLOCK>(w_, n_out, k);
    nnl_grid_begin();
    float* xs = (float*)nnl_norm_gemv_rows;
    nnl_norm_rows_to_shared<T>(x, (const S*)norm_weight_, (const S*)norm_bias_, xs, n_tok, k, norm, eps);
    nnl_gemv_begun<T, R, U, BLOCK, true>(w_, xs, bias, y, n_out, k, n_tok, epilogue);
}

#define NNL_NORM_GEMV_PARAMS                                                                      \
    (const void* w, const float* x, const void* norm_weight, const void* norm_bias, const void* bias, \
     float* y, int n_out, int k, int n_tok, int norm, float eps, int epilogue)
#define NNL_NORM_GEMV_ARGS (w, x, norm_weight, norm_bias, bias, y, n_out, k, n_tok, norm, eps, epilogue)

// nnl_norm_gemv_* fuses nnl_gemv_* (same R, U and launch). Only the variants the backend chooses
// for k below 5120 (CudaBackend.ChooseGemv; GPT-2's norms) have one; the PTX of each is large and
// the module is JIT-compiled whole.
#define NNL_NORM_GEMV_VARIANT(name, R, U)                                                         \
    template <typename T>                                                                         \
    __device__ __forceinline__ void name##_impl NNL_NORM_GEMV_PARAMS                              \
    { nnl_norm_gemv_tiled<T, R, U, false> NNL_NORM_GEMV_ARGS; }                                   \
    NNL_WEIGHT_ENTRIES_SELF_BEGUN(name, NNL_NORM_GEMV_PARAMS, NNL_NORM_GEMV_ARGS)

// Split-k, bounded to 64 registers as gemv.cu's nnl_gemv_b* (the norm runs before the GEMV's
// registers are live).
#define NNL_NORM_GEMV_BLOCK_VARIANT(name, R, U)                                                   \
    template <typename T>                                                                         \
    __device__ __forceinline__ void name##_impl NNL_NORM_GEMV_PARAMS                              \
    { nnl_norm_gemv_tiled<T, R, U, true> NNL_NORM_GEMV_ARGS; }                                    \
    extern "C" __global__ void __launch_bounds__(256, 4) name##_f16 NNL_NORM_GEMV_PARAMS          \
    { name##_impl<nnl_f16_t> NNL_NORM_GEMV_ARGS; }                                                \
    extern "C" __global__ void __launch_bounds__(256, 4) name##_bf16 NNL_NORM_GEMV_PARAMS         \
    { name##_impl<nnl_bf16_t> NNL_NORM_GEMV_ARGS; }                                               \
    extern "C" __global__ void __launch_bounds__(256, 4) name##_f32 NNL_NORM_GEMV_PARAMS          \
    { name##_impl<nnl_f32_t> NNL_NORM_GEMV_ARGS; }

NNL_NORM_GEMV_VARIANT(nnl_norm_gemv, 1, 4)
NNL_NORM_GEMV_VARIANT(nnl_norm_gemv_r4, 4, 2)
NNL_NORM_GEMV_BLOCK_VARIANT(nnl_norm_gemv_b4, 4, 1)
