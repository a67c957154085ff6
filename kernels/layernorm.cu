// LayerNorm over the last dimension with weight and (optional) bias: GPT-2's ln_1, ln_2, ln_f.
#include "nnl_common.cuh"

// One block per row (grid-stride over rows), blockDim a multiple of 32. Two passes (mean, then
// variance of x - mean) as torch does, over the row held in registers: one read of x, one write,
// two block reductions. y may alias x (every read precedes the reductions, every write follows).
// Rows too long for the registers, or not float4-aligned, take a plain loop with the same math.
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
    int nvec = dim / 4;
    bool registers = nnl_norm_row_fits(x, y, dim);
    // Weight and bias are read only after the two reductions; they are constants of the step, so
    // asking for them before the wait is safe: 16-bit ones on the register path into registers
    // (nnl_norm_held), the others into L2, so the tail is no DRAM round trip.
    nnl_norm_held<T> wh, bh;
    wh.load(weight, nvec, registers);
    bh.load(bias, nvec, registers);
    if (!wh.held) nnl_prefetch_l2_block(weight, (size_t)dim * sizeof(typename L::storage));
    if (bias && !bh.held) nnl_prefetch_l2_block(bias, (size_t)dim * sizeof(typename L::storage));
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
            for (int j = 0; j < NNL_NORM_VECTORS; j++) s += (v[j].x + v[j].y) + (v[j].z + v[j].w);
            float mean = nnl_block_sum(s, scratch) / dim;
            float q = 0.0f;
#pragma unroll
            for (int j = 0; j < NNL_NORM_VECTORS; j++)
                if (threadIdx.x + j * blockDim.x < nvec)
                {
                    float a = v[j].x - mean, b = v[j].y - mean, c = v[j].z - mean, d = v[j].w - mean;
                    q += (a * a + b * b) + (c * c + d * d);
                }
            float rstd = rsqrtf(nnl_block_sum(q, scratch) / dim + eps);
#pragma unroll
            for (int j = 0; j < NNL_NORM_VECTORS; j++)
            {
                int i = threadIdx.x + j * blockDim.x;
                if (i < nvec)
                {
                    int e = 4 * i;
                    float g[4], b[4];
                    wh.get(weight, j, e, g);
                    bh.get(bias, j, e, b);
                    float4 o;
                    o.x = (v[j].x - mean) * rstd * g[0];
                    o.y = (v[j].y - mean) * rstd * g[1];
                    o.z = (v[j].z - mean) * rstd * g[2];
                    o.w = (v[j].w - mean) * rstd * g[3];
                    if (bias) { o.x += b[0]; o.y += b[1]; o.z += b[2]; o.w += b[3]; }
                    ((float4*)yr)[i] = o;
                }
            }
            continue;
        }
        float s = 0.0f;
        for (int i = threadIdx.x; i < dim; i += blockDim.x) s += xr[i];
        float mean = nnl_block_sum(s, scratch) / dim;
        float v = 0.0f;
        for (int i = threadIdx.x; i < dim; i += blockDim.x) { float d = xr[i] - mean; v += d * d; }
        float rstd = rsqrtf(nnl_block_sum(v, scratch) / dim + eps);
        for (int i = threadIdx.x; i < dim; i += blockDim.x)
        {
            float o = (xr[i] - mean) * rstd * L::load(weight, i);
            if (bias) o += L::load(bias, i);
            yr[i] = o;
        }
    }
}

NNL_WEIGHT_ENTRIES_SELF_BEGUN(nnl_layernorm,
    (const float* x, const void* weight, const void* bias, float* y, int rows, int dim, float eps),
    (x, weight, bias, y, rows, dim, eps))
