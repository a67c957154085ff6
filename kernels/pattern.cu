// Fill and verify patterns: transfer tests fill a buffer on one side, copy it, and check it on the
// other side without a host round trip. The pattern of word i is nnl_hash32(i ^ seed), so a
// shifted, truncated or stale copy is detected, not only a missing one.
#include "nnl_common.cuh"

extern "C" __global__ void nnl_fill_pattern(nnl_u32* data, nnl_u64 words, nnl_u32 seed)
{
    nnl_grid_begin();
    for (size_t i = nnl_global_thread(); i < words; i += nnl_grid_threads())
        data[i] = nnl_hash32((nnl_u32)i ^ seed);
}

// Counts the words that differ from the pattern; *mismatches must be zero before the launch.
extern "C" __global__ void nnl_verify_pattern(const nnl_u32* data, nnl_u64 words, nnl_u32 seed, nnl_u64* mismatches)
{
    nnl_grid_begin();
    nnl_u64 bad = 0;
    for (size_t i = nnl_global_thread(); i < words; i += nnl_grid_threads())
        bad += data[i] != nnl_hash32((nnl_u32)i ^ seed);
    if (bad) atomicAdd(mismatches, bad);
}

// Copies words with the SMs instead of a copy engine (nvbandwidth's "_sm" variants): either side
// may be host memory mapped into the device's address space.
extern "C" __global__ void nnl_copy_words(const uint4* __restrict__ src, uint4* __restrict__ dst, nnl_u64 vectors)
{
    nnl_grid_begin();
    for (size_t i = nnl_global_thread(); i < vectors; i += nnl_grid_threads())
        dst[i] = src[i];
}
