// Greedy sampling on the device: the index of the largest logit per row, so a decode step returns
// 4 bytes instead of the whole vocabulary. Ties go to the smallest index (as torch.argmax).
#include "nnl_common.cuh"

// One block per row (grid-stride over rows), blockDim a multiple of 32, at most 1024. NaN is ignored.
extern "C" __global__ void nnl_argmax(const float* x /* [rows, cols] */, int* out /* [rows] */, int rows, int cols)
{
    nnl_grid_begin();
    __shared__ float best_v[32];
    __shared__ int best_i[32];
    for (int r = blockIdx.x; r < rows; r += gridDim.x)
    {
        const float* xr = x + (size_t)r * cols;
        float v = NNL_NEG_INF;
        int idx = 0x7fffffff;
        for (int i = threadIdx.x; i < cols; i += blockDim.x)
            if (xr[i] > v) { v = xr[i]; idx = i; }   // ascending i per thread: first maximum kept
        for (int o = 16; o > 0; o >>= 1)
        {
            float ov = __shfl_xor_sync(0xffffffffu, v, o);
            int oi = __shfl_xor_sync(0xffffffffu, idx, o);
            if (ov > v || (ov == v && oi < idx)) { v = ov; idx = oi; }
        }
        int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = (blockDim.x + 31) >> 5;
        __syncthreads();
        if (lane == 0) { best_v[warp] = v; best_i[warp] = idx; }
        __syncthreads();
        if (warp == 0)
        {
            v = lane < warps ? best_v[lane] : NNL_NEG_INF;
            idx = lane < warps ? best_i[lane] : 0x7fffffff;
            for (int o = 16; o > 0; o >>= 1)
            {
                float ov = __shfl_xor_sync(0xffffffffu, v, o);
                int oi = __shfl_xor_sync(0xffffffffu, idx, o);
                if (ov > v || (ov == v && oi < idx)) { v = ov; idx = oi; }
            }
            if (lane == 0) out[r] = idx == 0x7fffffff ? 0 : idx;
        }
    }
}
