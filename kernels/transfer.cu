// Kernels for Measure-NnlTransfer: an SM copy kernel (nvbandwidth's "_sm" mechanism), byte-exact
// fill and verify patterns for any transfer size, and a timed spin that holds a stream while the
// host queues the copies of one sample (so a sample times the GPU, not the host's enqueue rate).
#include "nnl_common.cuh"

// Copies bytes with the SMs; either side may be host memory mapped into the device's address space.
// Each thread keeps four 16-byte loads in flight before storing, so enough reads are outstanding to
// cover PCIe latency when the source is host memory. Both pointers must be 16-byte aligned.
extern "C" __global__ void nnl_sm_copy(const unsigned char* __restrict__ src, unsigned char* __restrict__ dst, nnl_u64 bytes)
{
    nnl_grid_begin();
    const nnl_u64 vectors = bytes / 16;
    const uint4* s = (const uint4*)src;
    uint4* d = (uint4*)dst;
    const size_t stride = nnl_grid_threads();
    size_t i = nnl_global_thread();
    for (; i + 3 * stride < vectors; i += 4 * stride)
    {
        uint4 a = s[i], b = s[i + stride], c = s[i + 2 * stride], e = s[i + 3 * stride];
        d[i] = a; d[i + stride] = b; d[i + 2 * stride] = c; d[i + 3 * stride] = e;
    }
    for (; i < vectors; i += stride) d[i] = s[i];
    // The last bytes % 16 bytes: one thread each (any grid has at least 16 threads).
    const nnl_u64 tail = vectors * 16 + nnl_global_thread();
    if (tail < bytes) dst[tail] = src[tail];
}

// Byte i of the pattern is byte (i % 4) of nnl_hash32((i / 4) ^ seed), little-endian: the same words
// as nnl_fill_pattern in pattern.cu, extended to sizes that are not a multiple of four. data must be
// 4-byte aligned.
__device__ __forceinline__ unsigned char nnl_pattern_byte(nnl_u64 i, nnl_u32 seed)
{
    return (unsigned char)(nnl_hash32((nnl_u32)(i / 4) ^ seed) >> (8 * (i % 4)));
}

extern "C" __global__ void nnl_fill_pattern_bytes(unsigned char* data, nnl_u64 bytes, nnl_u32 seed)
{
    nnl_grid_begin();
    const nnl_u64 words = bytes / 4;
    nnl_u32* w = (nnl_u32*)data;
    for (size_t i = nnl_global_thread(); i < words; i += nnl_grid_threads())
        w[i] = nnl_hash32((nnl_u32)i ^ seed);
    const nnl_u64 tail = words * 4 + nnl_global_thread();
    if (tail < bytes) data[tail] = nnl_pattern_byte(tail, seed);
}

// Adds the number of bytes that differ from the pattern to *mismatches (zero it before the launch).
// A differing word counts as 4; the caller only needs zero versus not zero, and a count to report.
extern "C" __global__ void nnl_verify_pattern_bytes(const unsigned char* data, nnl_u64 bytes, nnl_u32 seed, nnl_u64* mismatches)
{
    nnl_grid_begin();
    const nnl_u64 words = bytes / 4;
    const nnl_u32* w = (const nnl_u32*)data;
    nnl_u64 bad = 0;
    for (size_t i = nnl_global_thread(); i < words; i += nnl_grid_threads())
        bad += w[i] != nnl_hash32((nnl_u32)i ^ seed) ? 4 : 0;
    const nnl_u64 tail = words * 4 + nnl_global_thread();
    if (tail < bytes) bad += data[tail] != nnl_pattern_byte(tail, seed);
    if (bad) atomicAdd(mismatches, bad);
}

// Spins for ns nanoseconds of the GPU's global timer. Launched before the start event of a sample,
// it holds the stream while the host queues the sample's copies; the copies then run back to back.
// It is timed, never waiting on a host flag, so a copy that blocks the host cannot deadlock it.
extern "C" __global__ void nnl_spin_ns(nnl_u64 ns)
{
    nnl_grid_begin();
    nnl_u64 start, now;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(start));
    do
    {
        asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(now));
    } while (now - start < ns);
}
