// A chain of one-token products in one persistent kernel (an experiment towards a persistent decode
// layer, measured by CudaChainGemvTests): y_p = W_p · x_p for p = 0 .. phases-1, where x_p is the
// output of an earlier phase, the phases separated by grid-wide barriers. Separate kernels leave
// HBM idle between products (each kernel drains, the next ramps up); here every block, once its
// rows of phase p are done, asks L2 for its rows of phase p+1 before it waits at the barrier, so
// the next matrix streams in while the slowest blocks finish.
// Launch: cooperative (every block resident), grid = SMs, block 512 threads, dynamic shared memory
// max k * 4 bytes. barrier: one zero word, left at phases * gridDim.x (the host zeroes it before
// each launch).
#include "nnl_common.cuh"

// Phase p of the chain: weights w[p] fp16 [n[p], k[p]], input x[src[p]] (its first k[p] floats),
// output x[dst[p]] (n[p] floats). Arrays of phases entries in device memory.
extern "C" __global__ void __launch_bounds__(512, 1) nnl_chain_gemv_f16(
    const nnl_half* const* w, const int* n, const int* k, float* const* x, const int* src, const int* dst,
    int phases, nnl_u32* barrier)
{
    nnl_grid_begin();
    extern __shared__ float4 nnl_chain_x[];
    float* xs = (float*)nnl_chain_x;
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    for (int p = 0; p < phases; p++)
    {
        int np = n[p], kp = k[p];
        // The input was written by other blocks in the phase before: through L2, into shared memory.
        const float* xin = x[src[p]];
        for (int i = threadIdx.x; i < kp; i += blockDim.x) xs[i] = __ldcg(xin + i);
        __syncthreads();
        int r0 = (int)((long long)blockIdx.x * np / gridDim.x), r1 = (int)((long long)(blockIdx.x + 1) * np / gridDim.x);
        int vpr = kp / 8;
        const nnl_half* wp = w[p];
        float* y = x[dst[p]];
        for (int row = r0 + warp; row < r1; row += warps)
        {
            const uint4* wr = (const uint4*)(wp + (size_t)row * kp);
            float acc = 0.0f;
            for (int v0 = 0; v0 < vpr; v0 += 32 * 4)
            {
                uint4 q[4];
#pragma unroll
                for (int u = 0; u < 4; u++)
                    if (v0 + lane + 32 * u < vpr) q[u] = nnl_load_stream(wr + v0 + lane + 32 * u);
#pragma unroll
                for (int u = 0; u < 4; u++)
                {
                    int v = v0 + lane + 32 * u;
                    if (v < vpr)
                    {
                        float f[8];
                        nnl_vec<nnl_f16_t>::unpack(q[u], f);
#pragma unroll
                        for (int e = 0; e < 8; e++) acc += f[e] * xs[v * 8 + e];
                    }
                }
            }
            acc = nnl_warp_sum(acc);
            if (lane == 0) y[row] = acc;
        }
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
