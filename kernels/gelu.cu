// GELU, tanh approximation (HF "gelu_new", GPT-2's MLP activation):
//   0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
#include "nnl_common.cuh"

// Any grid (grid-stride); y may alias x.
extern "C" __global__ void nnl_gelu_new(const float* x /* [n] */, float* y /* [n] */, nnl_u64 n)
{
    nnl_grid_begin();
    for (size_t i = nnl_global_thread(); i < n; i += nnl_grid_threads()) y[i] = nnl_gelu_new_f(x[i]);
}
