// LayerNorm over the last dimension with weight and (optional) bias: GPT-2's ln_1, ln_2, ln_f.
#include "nnl_common.cuh"

// One block per row (grid-stride over rows), blockDim a multiple of 32 (256 suggested).
// Two passes (mean, then variance of x - mean) as torch does; y may alias x.
template <typename T>
__device__ __forceinline__ void nnl_layernorm_impl(
    const float* x,          // [rows, dim]
    const void* weight_,     // [dim]
    const void* bias_,       // [dim] or null
    float* y,                // [rows, dim]
    int rows, int dim, float eps)
{
    typedef nnl_type<T> L;
    const typename L::storage* weight = (const typename L::storage*)weight_;
    const typename L::storage* bias = (const typename L::storage*)bias_;
    __shared__ float scratch[32];
    for (int r = blockIdx.x; r < rows; r += gridDim.x)
    {
        const float* xr = x + (size_t)r * dim;
        float s = 0.0f;
        for (int i = threadIdx.x; i < dim; i += blockDim.x) s += xr[i];
        float mean = nnl_block_sum(s, scratch) / dim;
        float v = 0.0f;
        for (int i = threadIdx.x; i < dim; i += blockDim.x) { float d = xr[i] - mean; v += d * d; }
        float rstd = rsqrtf(nnl_block_sum(v, scratch) / dim + eps);
        float* yr = y + (size_t)r * dim;
        for (int i = threadIdx.x; i < dim; i += blockDim.x)
        {
            float o = (xr[i] - mean) * rstd * L::load(weight, i);
            if (bias) o += L::load(bias, i);
            yr[i] = o;
        }
    }
}

NNL_WEIGHT_ENTRIES(nnl_layernorm,
    (const float* x, const void* weight, const void* bias, float* y, int rows, int dim, float eps),
    (x, weight, bias, y, rows, dim, eps))
