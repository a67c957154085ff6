// Probe (nvcc on the GPU host; not part of the engine, nothing builds or tests it): how fast can one
// persistent kernel stream a GPT-2-XL decode step's weights when a producer warp per SM copies the
// block's rows of every product, in order and across phase boundaries, into a shared-memory ring
// (cp.async.bulk + mbarrier), while the block's consumer warps wait at grid barriers for each phase's
// input and dot the rows with it? The chain is GPT-2-XL's products without norms, biases or attention:
// per layer qkv [4800,1600], an elementwise stand-in for attention, out [1600,1600], up [6400,1600],
// down [1600,6400], each phase reading the previous phase's output after a grid barrier. Prints ms a step
// (48 layers, no lm_head), GB/s of weights against the device-to-device copy (read + write) measured in
// the same run, the first and last products' error against float64, and where consumer warp 0 and the
// producer spent the step. Figures: docs/performance.md, tenth session.
//   nvcc -O3 -arch=sm_90 -o stream_step stream_step.cu && ./stream_step [slot KB] [slots] [consumer warps] [mode]
// mode bits (timing only: the results are checked only in modes 0 and 8; the others race or skip work):
//   1 no grid barriers; 2 consumers skip the arithmetic; 4 no weights streamed (barriers only);
//   8 arrive with __threadfence + atomicAdd instead of red.release; 16 no barrier before out and down
//   (as if each were fused into its producer by a split-k reduction); 32 no barrier before attention.
#include <cstdio>
#include <cstdlib>
#include <cstdint>
#include <vector>
#include <algorithm>
#include <cuda_fp16.h>

#define CHECK(x) do { cudaError_t e = (x); if (e != cudaSuccess) { printf("%s: %s (line %d)\n", #x, cudaGetErrorString(e), __LINE__); exit(1); } } while (0)

struct Phase { const uint4* w; const float* in; float* out; int n, k, kind; };   // kind 0 product, 1 elementwise
constexpr int MAXJ = 4;          // column vectors a consumer thread holds (vpr ≤ 32·warps·MAXJ)
constexpr int MAXROWS = 64;      // rows of one product a block owns at most

__device__ __forceinline__ unsigned sa(const void* p) { return (unsigned)__cvta_generic_to_shared(p); }
__device__ __forceinline__ void mb_init(uint64_t* b, unsigned count) { asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;" ::"r"(sa(b)), "r"(count)); }
__device__ __forceinline__ bool mb_try(uint64_t* b, unsigned parity)
{
    unsigned done;
    asm volatile("{ .reg .pred p; mbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2; selp.u32 %0, 1, 0, p; }" : "=r"(done) : "r"(sa(b)), "r"(parity) : "memory");
    return done;
}
__device__ __forceinline__ void mb_wait(uint64_t* b, unsigned parity) { while (!mb_try(b, parity)) { } }
__device__ __forceinline__ void mb_arrive(uint64_t* b) { asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];" ::"r"(sa(b)) : "memory"); }
__device__ __forceinline__ void mb_expect(uint64_t* b, unsigned bytes) { asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(sa(b)), "r"(bytes) : "memory"); }
__device__ __forceinline__ void bulk_copy(void* dst, const void* src, unsigned bytes, uint64_t* b)
{
    asm volatile("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];"
                 ::"r"(sa(dst)), "l"(src), "r"(bytes), "r"(sa(b)) : "memory");
}
__device__ __forceinline__ float warp_sum(float v) { for (int o = 16; o; o >>= 1) v += __shfl_xor_sync(~0u, v, o); return v; }
__device__ __forceinline__ void consumers_sync(int n) { asm volatile("bar.sync 1, %0;" ::"r"(n) : "memory"); }

// Column slices of a row of vpr vectors: each at most 32·MAXJ vectors, their count a divisor of the
// consumer warps (the warps of one slice take the chunk's rows in turn).
__device__ __forceinline__ int slices_of(int vpr, int cw)
{
    int s = (vpr + 32 * MAXJ - 1) / (32 * MAXJ);
    while (cw % s) s++;
    return s;
}
// Whole rows a slot holds, a multiple of the warps that share a slice where the slot allows.
__device__ __forceinline__ int chunk_rows(int k, int slot_bytes, int cw)
{
    int rpc = max(1, slot_bytes / (k * 2)), per = cw / slices_of(k / 8, cw);
    return rpc >= per ? rpc / per * per : rpc;
}

__global__ void stream_step(const Phase* phases, int nphases, unsigned* counter, int slot_bytes, int slots, int mode, unsigned long long* stats)
{
    extern __shared__ __align__(128) unsigned char smem[];
    uint64_t* full = (uint64_t*)smem;
    uint64_t* empty = full + slots;
    float* partial = (float*)(empty + slots);                        // [MAXROWS][consumer warps]
    int cw = blockDim.x / 32 - 1;
    unsigned char* ring = smem + 1024 + MAXROWS * 32 * 4;            // aligned past the barriers and partials
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    if (threadIdx.x == 0)
        for (int s = 0; s < slots; s++) { mb_init(full + s, 1); mb_init(empty + s, cw); }
    asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
    __syncthreads();

    if (warp == 0)
    {
        long long pw = 0;
        // Producer: the block's rows of every product, whole rows a slot, in order.
        if (lane == 0)
        {
            unsigned it = 0;
            for (int p = 0; p < nphases; p++)
            {
                Phase ph = phases[p];
                if (ph.kind || (mode & 4)) continue;
                int first = (int)((long long)ph.n * blockIdx.x / gridDim.x), last = (int)((long long)ph.n * (blockIdx.x + 1) / gridDim.x);
                int row_bytes = ph.k * 2, rpc = chunk_rows(ph.k, slot_bytes, blockDim.x / 32 - 1);
                for (int r = first; r < last; r += rpc, it++)
                {
                    int s = it % slots;
                    unsigned bytes = (unsigned)(min(rpc, last - r) * row_bytes);
                    long long c0 = clock64();
                    mb_wait(empty + s, ((it / slots) & 1) ^ 1);
                    pw += clock64() - c0;
                    mb_expect(full + s, bytes);
                    bulk_copy(ring + (size_t)s * slot_bytes, (const char*)ph.w + (size_t)r * row_bytes, bytes, full + s);
                }
            }
        }
        if (lane == 0) stats[blockIdx.x * 8 + 0] = pw;
        return;
    }

    int t = threadIdx.x - 32, nt = 32 * cw, cwarp = warp - 1;
    unsigned it = 0, target = 0;
    long long tg = 0, tf = 0, tc = 0, te = 0, tx = 0, tstart = clock64(); long long c1;
    for (int p = 0; p < nphases; p++)
    {
        Phase ph = phases[p];
        // Wait for the phase before (its outputs are this phase's input).
        c1 = clock64();
        // mode 16: no barrier before out and down (as if split-K fused them to their producers); 32: nor before attention.
        bool skip = (mode & 1) || ((mode & 16) && (p % 5 == 2 || p % 5 == 4)) || ((mode & 32) && p % 5 == 1);
        if (p > 0 && !skip)
        {
            target = (unsigned)p * gridDim.x;
            if (t == 0) { unsigned v; do { asm volatile("ld.acquire.gpu.global.u32 %0, [%1];" : "=r"(v) : "l"(counter) : "memory"); } while (v < target); }
            consumers_sync(nt);
        }
        int first = (int)((long long)ph.n * blockIdx.x / gridDim.x), last = (int)((long long)ph.n * (blockIdx.x + 1) / gridDim.x);
        tg += clock64() - c1;
        if (ph.kind == 1)
        {
            c1 = clock64();
            for (int i = first + t; i < last; i += nt) ph.out[i] = 0.5f * __ldcg(ph.in + i);
        }
        else
        {
            int vpr = ph.k / 8, S = slices_of(vpr, cw), per_slice = cw / S, rpc = chunk_rows(ph.k, slot_bytes, cw);
            int slice = cwarp % S, turn = cwarp / S;
            int v0 = vpr * slice / S, len = vpr * (slice + 1) / S - v0;
            float xr[MAXJ][8];
#pragma unroll
            for (int j = 0; j < MAXJ; j++)
            {
                int v = lane + 32 * j;
                float4 a = v < len ? __ldcg((const float4*)ph.in + 2 * (v0 + v)) : make_float4(0, 0, 0, 0);
                float4 b = v < len ? __ldcg((const float4*)ph.in + 2 * (v0 + v) + 1) : make_float4(0, 0, 0, 0);
                xr[j][0] = a.x; xr[j][1] = a.y; xr[j][2] = a.z; xr[j][3] = a.w; xr[j][4] = b.x; xr[j][5] = b.y; xr[j][6] = b.z; xr[j][7] = b.w;
            }
            for (int r = first; r < ((mode & 4) ? first : last); r += rpc, it++)
            {
                int s = it % slots, nr = min(rpc, last - r);
                c1 = clock64();
                mb_wait(full + s, (it / slots) & 1);
                tf += clock64() - c1; c1 = clock64();
                const uint4* chunk = (const uint4*)(ring + (size_t)s * slot_bytes) + v0;
                for (int i = turn; i < ((mode & 2) ? 0 : nr); i += 2 * per_slice)
                {
                    int i2 = i + per_slice;
                    bool two = i2 < nr;
                    uint4 q[MAXJ], q2[MAXJ];
#pragma unroll
                    for (int j = 0; j < MAXJ; j++)
                    {
                        int v = lane + 32 * j;
                        q[j] = v < len ? chunk[i * vpr + v] : make_uint4(0, 0, 0, 0);
                        q2[j] = v < len && two ? chunk[i2 * vpr + v] : make_uint4(0, 0, 0, 0);
                    }
                    float a4[MAXJ], b4[MAXJ];
#pragma unroll
                    for (int j = 0; j < MAXJ; j++)
                    {
                        const __half2* h = (const __half2*)&q[j];
                        const __half2* h2 = (const __half2*)&q2[j];
                        float x0 = 0.0f, x1 = 0.0f, y0 = 0.0f, y1 = 0.0f;
#pragma unroll
                        for (int e = 0; e < 4; e++)
                        {
                            float2 f = __half22float2(h[e]), g = __half22float2(h2[e]);
                            x0 = fmaf(f.x, xr[j][2 * e], x0); x1 = fmaf(f.y, xr[j][2 * e + 1], x1);
                            y0 = fmaf(g.x, xr[j][2 * e], y0); y1 = fmaf(g.y, xr[j][2 * e + 1], y1);
                        }
                        a4[j] = x0 + x1; b4[j] = y0 + y1;
                    }
                    float acc = (a4[0] + a4[1]) + (a4[2] + a4[3]), acc2 = (b4[0] + b4[1]) + (b4[2] + b4[3]);
                    for (int o = 16; o; o >>= 1) { acc += __shfl_xor_sync(~0u, acc, o); acc2 += __shfl_xor_sync(~0u, acc2, o); }
                    if (lane == 0)
                    {
                        partial[(r - first + i) * cw + slice] = acc;
                        if (two) partial[(r - first + i2) * cw + slice] = acc2;
                    }
                }
                __syncwarp();
                if (lane == 0) mb_arrive(empty + s);
                tc += clock64() - c1;
            }
            c1 = clock64();
            consumers_sync(nt);
            for (int i = t; i < last - first; i += nt)
            {
                float s = 0.0f;
                for (int w = 0; w < S; w++) s += partial[i * cw + w];
                ph.out[first + i] = s;
            }
        }
        consumers_sync(nt);
        if (t == 0) { if (mode & 8) { __threadfence(); atomicAdd(counter, 1u); } else asm volatile("red.release.gpu.global.add.u32 [%0], 1;" ::"l"(counter) : "memory"); }
        te += clock64() - c1;
    }
    if (t == 0) { unsigned long long* st = stats + blockIdx.x * 8; st[1] = tg; st[2] = tx; st[3] = tf; st[4] = tc; st[5] = te; st[6] = clock64() - tstart; }
}

__global__ void fill(__half* w, size_t n, float scale, unsigned seed)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
    {
        unsigned h = (unsigned)i * 2654435761u ^ seed; h ^= h >> 13; h *= 0x5bd1e995u; h ^= h >> 15;
        w[i] = __float2half(((h & 0xffff) / 65535.0f - 0.5f) * scale);
    }
}
__global__ void gemv_ref(const __half* w, const float* x, double* y, int n, int k)
{
    int r = blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= n) return;
    double s = 0;
    for (int j = 0; j < k; j++) s += (double)__half2float(w[(size_t)r * k + j]) * x[j];
    y[r] = s;
}

int main(int argc, char** argv)
{
    int slot_kb = argc > 1 ? atoi(argv[1]) : 16, slots = argc > 2 ? atoi(argv[2]) : 11, cw = argc > 3 ? atoi(argv[3]) : 8, mode = argc > 4 ? atoi(argv[4]) : 0;
    int layers = 48, hidden = 1600, inner = 6400;
    int sms; CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
    struct P { int n, k, kind; };
    std::vector<P> shape = {{3 * hidden, hidden, 0}, {hidden, 0, 1}, {hidden, hidden, 0}, {inner, hidden, 0}, {hidden, inner, 0}};
    std::vector<Phase> ph;
    size_t weight_bytes = 0;
    float *x0; CHECK(cudaMalloc(&x0, hidden * 4));
    std::vector<float> hx(hidden); for (int i = 0; i < hidden; i++) hx[i] = (float)((i * 37 % 101) - 50) / 50.0f;
    CHECK(cudaMemcpy(x0, hx.data(), hidden * 4, cudaMemcpyHostToDevice));
    const float* prev = x0;
    for (int l = 0; l < layers; l++)
        for (auto s : shape)
        {
            Phase p{};
            p.n = s.n; p.k = s.k; p.kind = s.kind; p.in = prev;
            CHECK(cudaMalloc(&p.out, s.n * 4));
            if (!s.kind)
            {
                __half* w; size_t n = (size_t)s.n * s.k;
                CHECK(cudaMalloc(&w, n * 2));
                fill<<<1024, 256>>>(w, n, 3.4f / sqrtf((float)s.k), (unsigned)ph.size() * 7919u);
                p.w = (const uint4*)w; weight_bytes += n * 2;
            }
            ph.push_back(p); prev = p.out;
        }
    Phase* dph; CHECK(cudaMalloc(&dph, ph.size() * sizeof(Phase)));
    CHECK(cudaMemcpy(dph, ph.data(), ph.size() * sizeof(Phase), cudaMemcpyHostToDevice));
    unsigned* counter; CHECK(cudaMalloc(&counter, 4));
    unsigned long long* stats; CHECK(cudaMalloc(&stats, sms * 64));
    int slot_bytes = slot_kb * 1024;
    size_t shared = 1024 + MAXROWS * 32 * 4 + (size_t)slots * slot_bytes;
    CHECK(cudaFuncSetAttribute(stream_step, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)shared));
    cudaEvent_t a, b; cudaEventCreate(&a); cudaEventCreate(&b);
    std::vector<float> times;
    for (int rep = 0; rep < 23; rep++)
    {
        CHECK(cudaMemsetAsync(counter, 0, 4));
        cudaEventRecord(a);
        stream_step<<<sms, 32 * (1 + cw), shared>>>(dph, (int)ph.size(), counter, slot_bytes, slots, mode, stats);
        cudaEventRecord(b);
        CHECK(cudaEventSynchronize(b));
        CHECK(cudaGetLastError());
        float ms; cudaEventElapsedTime(&ms, a, b);
        if (rep >= 3) times.push_back(ms);
    }
    std::sort(times.begin(), times.end());
    {
        std::vector<unsigned long long> hs(sms * 8); CHECK(cudaMemcpy(hs.data(), stats, sms * 64, cudaMemcpyDeviceToHost));
        const char* names[] = {"producer waits for a slot", "consumers wait at the grid barrier", "(not measured)", "consumers wait for a slot", "chunk compute", "product epilogue + arrive", "consumer total"};
        for (int c = 0; c < 7; c++) { double m = 0; for (int b = 0; b < sms; b++) m += hs[b * 8 + c]; printf("  %-36s %8.1f us a step (mean of blocks, 1.98 GHz)\n", names[c], m / sms / 1980.0); }
    }
    // Check: the first and the last product against float64 on the probe's own inputs.
    double worst = 0;
    for (size_t pi : {(size_t)0, ph.size() - 1})
    {
        Phase p = ph[pi];
        double* ref; CHECK(cudaMalloc(&ref, p.n * 8));
        gemv_ref<<<(p.n + 127) / 128, 128>>>((const __half*)p.w, p.in, ref, p.n, p.k);
        std::vector<double> hr(p.n); std::vector<float> hy(p.n);
        CHECK(cudaMemcpy(hr.data(), ref, p.n * 8, cudaMemcpyDeviceToHost));
        CHECK(cudaMemcpy(hy.data(), p.out, p.n * 4, cudaMemcpyDeviceToHost));
        double scale = 0; for (double v : hr) scale = std::max(scale, std::abs(v));
        for (int i = 0; i < p.n; i++) worst = std::max(worst, std::abs(hy[i] - hr[i]) / std::max(scale, 1e-30));
        cudaFree(ref);
    }
    // The copy ceiling in the same run: 1 GiB device to device, read + write.
    size_t cb = 1ull << 30; void *s1, *s2; CHECK(cudaMalloc(&s1, cb)); CHECK(cudaMalloc(&s2, cb));
    std::vector<float> ct;
    for (int rep = 0; rep < 13; rep++)
    {
        cudaEventRecord(a); CHECK(cudaMemcpyAsync(s2, s1, cb, cudaMemcpyDeviceToDevice)); cudaEventRecord(b); cudaEventSynchronize(b);
        float ms; cudaEventElapsedTime(&ms, a, b); if (rep >= 3) ct.push_back(ms);
    }
    std::sort(ct.begin(), ct.end());
    double copy = 2.0 * cb / (ct[ct.size() / 2] * 1e-3) / 1e9;
    double med = times[times.size() / 2];
    double gbps = weight_bytes / (med * 1e-3) / 1e9;
    printf("mode %d slot %d KB x %d, %d consumer warps: step %.3f ms (min %.3f), %.2f GB of weights, %.0f GB/s = %.1f %% of copy %.0f GB/s; max rel err %.2e\n",
           mode, slot_kb, slots, cw, med, times[0], weight_bytes / 1e9, gbps, 100 * gbps / copy, copy, worst);
    return 0;
}
