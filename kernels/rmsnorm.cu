// RMSNorm (Llama): y = x / sqrt(mean(x^2) + eps) * weight.
#include "nnl_common.cuh"

// One block per row (grid-stride over rows), blockDim a multiple of 32; y may alias x. The row
// is read once into registers (one block reduction, one write); rows too long for them, or not
// float4-aligned, take a plain loop with the same math.
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
    // The weight is read only after the reduction; a constant of the step, asked for before the wait:
    // 16-bit on the register path into registers (nnl_norm_held), otherwise into L2.
    int nvec = dim / 4;
    bool registers = nnl_norm_row_fits(x, y, dim);
    nnl_norm_held<T> wh;
    wh.load(weight, nvec, registers);
    if (!wh.held) nnl_prefetch_l2_block(weight, (size_t)dim * sizeof(typename L::storage));
    nnl_grid_begin();
    for (int r = blockIdx.x; r < rows; r += gridDim.x)
    {
        const float* xr = x + (size_t)r * dim;
        float* yr = y + (size_t)r * dim;
        if (registers)
        {
            float4 v[NNL_NORM_VECTORS];
            nnl_norm_load_row(v, xr, nvec);
            float s = 0.0f;
#pragma unroll
            for (int j = 0; j < NNL_NORM_VECTORS; j++) s += (v[j].x * v[j].x + v[j].y * v[j].y) + (v[j].z * v[j].z + v[j].w * v[j].w);
            float rstd = rsqrtf(nnl_block_sum(s, scratch) / dim + eps);
#pragma unroll
            for (int j = 0; j < NNL_NORM_VECTORS; j++)
            {
                int i = threadIdx.x + j * blockDim.x;
                if (i < nvec)
                {
                    int e = 4 * i;
                    float g[4];
                    wh.get(weight, j, e, g);
                    float4 o;
                    o.x = v[j].x * rstd * g[0];
                    o.y = v[j].y * rstd * g[1];
                    o.z = v[j].z * rstd * g[2];
                    o.w = v[j].w * rstd * g[3];
                    ((float4*)yr)[i] = o;
                }
            }
            continue;
        }
        float s = 0.0f;
        for (int i = threadIdx.x; i < dim; i += blockDim.x) s += xr[i] * xr[i];
        float rstd = rsqrtf(nnl_block_sum(s, scratch) / dim + eps);
        for (int i = threadIdx.x; i < dim; i += blockDim.x) yr[i] = xr[i] * rstd * L::load(weight, i);
    }
}

NNL_WEIGHT_ENTRIES_SELF_BEGUN(nnl_rmsnorm,
    (const float* x, const void* weight, float* y, int rows, int dim, float eps),
    (x, weight, y, rows, dim, eps))
