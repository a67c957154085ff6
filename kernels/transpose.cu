// Matrix transpose through 32x32 shared-memory tiles, for a loader that wants GPT-2's Conv1D
// [in, out] weights in nn.Linear's [out, in] layout (the matrix kernels also read Conv1D as stored).
#include "nnl_common.cuh"

#define NNL_TILE 32

// Block (32, 8); grid (ceil(cols/32), ceil(rows/32)), or smaller: tiles are walked grid-stride.
template <typename S>
__device__ __forceinline__ void nnl_transpose_impl(const S* __restrict__ src /* [rows, cols] */, S* __restrict__ dst /* [cols, rows] */, int rows, int cols)
{
    __shared__ S tile[NNL_TILE][NNL_TILE + 1];
    int tilesX = (cols + NNL_TILE - 1) / NNL_TILE, tilesY = (rows + NNL_TILE - 1) / NNL_TILE;
    for (int ty = blockIdx.y; ty < tilesY; ty += gridDim.y)
        for (int tx = blockIdx.x; tx < tilesX; tx += gridDim.x)
        {
            int c = tx * NNL_TILE + threadIdx.x;
            for (int j = threadIdx.y; j < NNL_TILE; j += blockDim.y)
            {
                int r = ty * NNL_TILE + j;
                if (r < rows && c < cols) tile[j][threadIdx.x] = src[(size_t)r * cols + c];
            }
            __syncthreads();
            int r = ty * NNL_TILE + threadIdx.x;            // now a column of dst
            for (int j = threadIdx.y; j < NNL_TILE; j += blockDim.y)
            {
                int c2 = tx * NNL_TILE + j;
                if (r < rows && c2 < cols) dst[(size_t)c2 * rows + r] = tile[threadIdx.x][j];
            }
            __syncthreads();
        }
}

extern "C" __global__ void nnl_transpose_u16(const unsigned short* src /* [rows, cols] */, unsigned short* dst /* [cols, rows] */, int rows, int cols)
{
    nnl_grid_begin();
    nnl_transpose_impl<unsigned short>(src, dst, rows, cols);
}

extern "C" __global__ void nnl_transpose_f32(const float* src /* [rows, cols] */, float* dst /* [cols, rows] */, int rows, int cols)
{
    nnl_grid_begin();
    nnl_transpose_impl<float>(src, dst, rows, cols);
}
