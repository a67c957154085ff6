// Column slice: dst[r, :] = src[r, offset .. offset + dst_cols] (splits GPT-2's fused QKV).
#include "nnl_common.cuh"

// Any grid (grid-stride over rows * dst_cols).
extern "C" __global__ void nnl_slice_columns(
    const float* __restrict__ src,   // [rows, src_cols]
    float* __restrict__ dst,         // [rows, dst_cols]
    int rows, int src_cols, int dst_cols, int offset)
{
    nnl_grid_begin();
    size_t total = (size_t)rows * dst_cols;
    for (size_t i = nnl_global_thread(); i < total; i += nnl_grid_threads())
    {
        size_t r = i / dst_cols, c = i % dst_cols;
        dst[i] = src[r * src_cols + offset + c];
    }
}
