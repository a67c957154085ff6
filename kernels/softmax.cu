// Softmax over the last dimension, in place, max-subtracted.
#include "nnl_common.cuh"

// One block per row (grid-stride over rows), blockDim a multiple of 32 (256 suggested).
extern "C" __global__ void nnl_softmax(float* x /* [rows, cols] */, int rows, int cols)
{
    nnl_grid_begin();
    __shared__ float scratch[32];
    for (int r = blockIdx.x; r < rows; r += gridDim.x)
    {
        float* xr = x + (size_t)r * cols;
        float m = NNL_NEG_INF;
        for (int i = threadIdx.x; i < cols; i += blockDim.x) m = fmaxf(m, xr[i]);
        m = nnl_block_max(m, scratch);
        float s = 0.0f;
        for (int i = threadIdx.x; i < cols; i += blockDim.x) { float e = expf(xr[i] - m); xr[i] = e; s += e; }
        float inv = 1.0f / nnl_block_sum(s, scratch);
        for (int i = threadIdx.x; i < cols; i += blockDim.x) xr[i] *= inv;
    }
}
