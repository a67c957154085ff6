// SiLU (swish): x * sigmoid(x).
#include "nnl_common.cuh"

__device__ __forceinline__ float nnl_silu_of(float v) { return v / (1.0f + expf(-v)); }

// Any grid (grid-stride); y may alias x.
extern "C" __global__ void nnl_silu(const float* x /* [n] */, float* y /* [n] */, nnl_u64 n)
{
    nnl_grid_begin();
    for (size_t i = nnl_global_thread(); i < n; i += nnl_grid_threads()) y[i] = nnl_silu_of(x[i]);
}
