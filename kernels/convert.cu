// Element type conversions. Weights arrive as fp16/bf16/fp32; activations are fp32. The f32→16-bit
// direction exists for cuBLAS GemmEx, whose A and B operands must share one type.
#include "nnl_common.cuh"

extern "C" __global__ void nnl_convert_f16_f32(const nnl_half* __restrict__ src /* [n] */, float* __restrict__ dst /* [n] */, nnl_u64 n)
{
    nnl_grid_begin();
    for (size_t i = nnl_global_thread(); i < n; i += nnl_grid_threads()) dst[i] = nnl_half_to_float(src[i]);
}

extern "C" __global__ void nnl_convert_bf16_f32(const nnl_bf16* __restrict__ src /* [n] */, float* __restrict__ dst /* [n] */, nnl_u64 n)
{
    nnl_grid_begin();
    for (size_t i = nnl_global_thread(); i < n; i += nnl_grid_threads()) dst[i] = nnl_bf16_to_float(src[i]);
}

extern "C" __global__ void nnl_convert_f32_f16(const float* __restrict__ src /* [n] */, nnl_half* __restrict__ dst /* [n] */, nnl_u64 n)
{
    nnl_grid_begin();
    for (size_t i = nnl_global_thread(); i < n; i += nnl_grid_threads()) dst[i] = nnl_float_to_half(src[i]);
}

extern "C" __global__ void nnl_convert_f32_bf16(const float* __restrict__ src /* [n] */, nnl_bf16* __restrict__ dst /* [n] */, nnl_u64 n)
{
    nnl_grid_begin();
    for (size_t i = nnl_global_thread(); i < n; i += nnl_grid_threads()) dst[i] = nnl_float_to_bf16(src[i]);
}

// Splits fp32 values into two 16-bit parts, x ≈ hi + lo, hi = round(x), lo = round(x - hi): a
// 16-bit GEMM run on hi and again on lo (accumulating) sees the activations with about twice the
// 16-bit mantissa (bf16: 16 bits instead of 8), so cuBLAS products stay close to fp32 ones.
extern "C" __global__ void nnl_split_f32_f16(const float* __restrict__ src /* [n] */, nnl_half* __restrict__ hi /* [n] */, nnl_half* __restrict__ lo /* [n] */, nnl_u64 n)
{
    nnl_grid_begin();
    for (size_t i = nnl_global_thread(); i < n; i += nnl_grid_threads())
    {
        float x = src[i];
        nnl_half h = nnl_float_to_half(x);
        hi[i] = h;
        lo[i] = nnl_float_to_half(x - nnl_half_to_float(h));
    }
}

extern "C" __global__ void nnl_split_f32_bf16(const float* __restrict__ src /* [n] */, nnl_bf16* __restrict__ hi /* [n] */, nnl_bf16* __restrict__ lo /* [n] */, nnl_u64 n)
{
    nnl_grid_begin();
    for (size_t i = nnl_global_thread(); i < n; i += nnl_grid_threads())
    {
        float x = src[i];
        nnl_bf16 h = nnl_float_to_bf16(x);
        hi[i] = h;
        lo[i] = nnl_float_to_bf16(x - nnl_bf16_to_float(h));
    }
}
