// RMSNorm (Llama): y = x / sqrt(mean(x^2) + eps) * weight.
#include "nnl_common.cuh"

// One block per row (grid-stride over rows), blockDim a multiple of 32 (256 suggested); y may alias x.
template <typename T>
__device__ __forceinline__ void nnl_rmsnorm_impl(
    const float* x,          // [rows, dim]
    const void* weight_,     // [dim]
    float* y,                // [rows, dim]
    int rows, int dim, float eps)
{
    typedef nnl_type<T> L;
    const typename L::storage* weight = (const typename L::storage*)weight_;
    __shared__ float scratch[32];
    for (int r = blockIdx.x; r < rows; r += gridDim.x)
    {
        const float* xr = x + (size_t)r * dim;
        float s = 0.0f;
        for (int i = threadIdx.x; i < dim; i += blockDim.x) s += xr[i] * xr[i];
        float rstd = rsqrtf(nnl_block_sum(s, scratch) / dim + eps);
        float* yr = y + (size_t)r * dim;
        for (int i = threadIdx.x; i < dim; i += blockDim.x) yr[i] = xr[i] * rstd * L::load(weight, i);
    }
}

NNL_WEIGHT_ENTRIES(nnl_rmsnorm,
    (const float* x, const void* weight, float* y, int rows, int dim, float eps),
    (x, weight, y, rows, dim, eps))
