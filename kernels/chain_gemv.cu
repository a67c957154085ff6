// A chain of one-token products in one persistent kernel (an experiment towards a persistent decode
// layer, measured by CudaChainGemvTests): y_p = W_p · x_p for p = 0 .. phases-1, where x_p is the
// output of an earlier phase, the phases separated by grid-wide barriers. Separate kernels leave
// HBM idle between products (each kernel drains, the next ramps up); here every block, once its
// rows of phase p are done, asks L2 for its rows of phase p+1 before it waits at the barrier, so
// the next matrix streams in while the slowest blocks finish.
// Launch: cooperative (every block resident), grid = SMs, block 1024 threads, dynamic shared memory
// max k * 4 bytes; n / grid at most CHAIN_MAX_ROWS; k at least 256 (a row of 32 vectors or more). Row sums are shared-memory atomics: the
// order of a row's additions varies from run to run (an experiment, not a deterministic kernel). barrier: one zero word, left at phases * gridDim.x (the host zeroes it before
// each launch).
#include "nnl_common.cuh"

#define CHAIN_U 8             // 16-byte loads in flight per thread
#define CHAIN_MAX_ROWS 1024   // rows a block owns in one phase (n / gridDim.x)

// Phase p of the chain: weights w[p] fp16 [n[p], k[p]], input x[src[p]] (its first k[p] floats),
// output x[dst[p]] (n[p] floats). Arrays of phases entries in device memory.
extern "C" __global__ void __launch_bounds__(1024, 1) nnl_chain_gemv_f16(
    const nnl_half* const* w, const int* n, const int* k, float* const* x, const int* src, const int* dst,
    int phases, nnl_u32* barrier)
{
    nnl_grid_begin();
    extern __shared__ float4 nnl_chain_x[];
    float* xs = (float*)nnl_chain_x;
    __shared__ float row_sums[CHAIN_MAX_ROWS];
    for (int p = 0; p < phases; p++)
    {
        int np = n[p], kp = k[p];
        // The input was written by other blocks in the phase before: through L2, into shared memory.
        const float* xin = x[src[p]];
        for (int i = threadIdx.x; i < kp; i += blockDim.x) xs[i] = __ldcg(xin + i);
        __syncthreads();
        int r0 = (int)((long long)blockIdx.x * np / gridDim.x), r1 = (int)((long long)(blockIdx.x + 1) * np / gridDim.x);
        int vpr = kp / 8;
        // The block's rows are one contiguous run of 16-byte vectors: thread t takes vectors t,
        // t + blockDim, ... (coalesced, the block's share to within one vector per thread), CHAIN_U
        // loads in flight, and adds each vector's dot product into its row's sum in shared memory.
        for (int r = threadIdx.x; r < r1 - r0; r += blockDim.x) row_sums[r] = 0.0f;
        __syncthreads();
        const uint4* wr = (const uint4*)(w[p] + (size_t)r0 * kp);
        int total = (r1 - r0) * vpr;
        for (int base = 0; base < total; base += blockDim.x * CHAIN_U)
        {
            uint4 q[CHAIN_U];
#pragma unroll
            for (int u = 0; u < CHAIN_U; u++)
            {
                int i = base + threadIdx.x + u * blockDim.x;
                if (i < total) q[u] = nnl_load_stream(wr + i);
            }
#pragma unroll
            for (int u = 0; u < CHAIN_U; u++)
            {
                int i = base + threadIdx.x + u * blockDim.x;
                int row = i / vpr;
                float d = 0.0f;
                if (i < total)
                {
                    int v = i - row * vpr;
                    float f[8];
                    nnl_vec<nnl_f16_t>::unpack(q[u], f);
#pragma unroll
                    for (int e = 0; e < 8; e++) d += f[e] * xs[v * 8 + e];
                }
                // A warp's 32 consecutive vectors lie in at most two rows (rows of 32 vectors or
                // more): sum each row's share across the warp, one shared-memory add per row.
                int first = __shfl_sync(0xffffffffu, row, 0);
                float mine = nnl_warp_sum(row == first ? d : 0.0f);
                float next = nnl_warp_sum(row != first ? d : 0.0f);
                if ((threadIdx.x & 31) == 0)
                {
                    if (first < r1 - r0) atomicAdd(row_sums + first, mine);
                    if (first + 1 < r1 - r0 && next != 0.0f) atomicAdd(row_sums + first + 1, next);
                }
            }
        }
        __syncthreads();
        float* y = x[dst[p]];
        for (int r = threadIdx.x; r < r1 - r0; r += blockDim.x) y[r0 + r] = row_sums[r];
        if (p + 1 == phases) break;
        // This block's rows of the next phase, into L2 while the others finish this one.
        {
            int n1 = n[p + 1], k1 = k[p + 1];
            int s0 = (int)((long long)blockIdx.x * n1 / gridDim.x), s1 = (int)((long long)(blockIdx.x + 1) * n1 / gridDim.x);
            const char* base = (const char*)(w[p + 1] + (size_t)s0 * k1);
            nnl_u64 bytes = (nnl_u64)(s1 - s0) * k1 * sizeof(nnl_half);
            for (nnl_u64 off = (nnl_u64)threadIdx.x * 128; off < bytes; off += (nnl_u64)blockDim.x * 128)
                asm volatile("prefetch.global.L2 [%0];" ::"l"(base + off));
        }
        // Grid-wide barrier: every block's outputs of phase p are visible before any block reads them.
        __syncthreads();
        if (threadIdx.x == 0)
        {
            __threadfence();
            atomicAdd(barrier, 1u);
            nnl_u32 target = (nnl_u32)(p + 1) * gridDim.x;
            while (*(volatile nnl_u32*)barrier < target) { }
            __threadfence();
        }
        __syncthreads();
    }
}
