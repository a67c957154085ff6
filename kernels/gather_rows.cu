// Row gather: dst[i, :] = src[index[i], :] (the batch rows whose logits the head computes).
#include "nnl_common.cuh"

// Any grid (grid-stride over n * cols).
extern "C" __global__ void nnl_gather_rows(
    const float* __restrict__ src,   // [rows, cols]
    const int* __restrict__ index,   // [n]
    float* __restrict__ dst,         // [n, cols]
    int n, int cols)
{
    nnl_grid_begin();
    size_t total = (size_t)n * cols;
    for (size_t i = nnl_global_thread(); i < total; i += nnl_grid_threads())
    {
        size_t r = i / cols, c = i % cols;
        dst[i] = src[(size_t)index[r] * cols + c];
    }
}
