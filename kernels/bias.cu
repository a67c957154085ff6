// Bias add over rows: x[r, c] += bias[c]. (The GEMV and GEMM kernels can also fuse their bias.)
#include "nnl_common.cuh"

// In place; any grid (grid-stride over rows*cols).
template <typename T>
__device__ __forceinline__ void nnl_add_bias_impl(float* x /* [rows, cols] */, const void* bias_ /* [cols] */, int rows, int cols)
{
    typedef nnl_type<T> L;
    const typename L::storage* bias = (const typename L::storage*)bias_;
    size_t total = (size_t)rows * cols;
    for (size_t i = nnl_global_thread(); i < total; i += nnl_grid_threads()) x[i] += L::load(bias, i % cols);
}

NNL_WEIGHT_ENTRIES(nnl_add_bias, (float* x, const void* bias, int rows, int cols), (x, bias, rows, cols))
