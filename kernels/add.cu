// Residual add: y = a + b, elementwise.
#include "nnl_common.cuh"

// Any grid (grid-stride); y may alias a or b.
extern "C" __global__ void nnl_add(const float* a /* [n] */, const float* b /* [n] */, float* y /* [n] */, nnl_u64 n)
{
    nnl_grid_begin();
    for (size_t i = nnl_global_thread(); i < n; i += nnl_grid_threads()) y[i] = a[i] + b[i];
}
