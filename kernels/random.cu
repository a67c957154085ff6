// Uniform random fill on the device: benchmarks give a model-sized stack random weights (tens of
// GB) without generating them on the host. Element i = scale * (2u - 1), u from nnl_hash32 of
// (i, seed), rounded to the weight type; the same (n, seed, scale) always gives the same values.
#include "nnl_common.cuh"

template <typename T>
__device__ __forceinline__ void nnl_fill_uniform_impl(void* data_, nnl_u64 n, nnl_u32 seed, float scale)
{
    typedef nnl_type<T> L;
    typename L::storage* data = (typename L::storage*)data_;
    nnl_u32 mix = nnl_hash32(seed * 0x9e3779b9u + 0x632be5abu);
    for (size_t i = nnl_global_thread(); i < n; i += nnl_grid_threads())
    {
        nnl_u32 h = nnl_hash32((nnl_u32)i ^ mix ^ nnl_hash32((nnl_u32)(i >> 32) + mix));
        float u = (h >> 8) * (1.0f / 16777216.0f);   // [0, 1), 24 bits
        data[i] = L::from_float(scale * (2.0f * u - 1.0f));
    }
}

NNL_WEIGHT_ENTRIES(nnl_fill_uniform, (void* data, nnl_u64 n, nnl_u32 seed, float scale), (data, n, seed, scale))
