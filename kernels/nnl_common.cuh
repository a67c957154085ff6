// Shared helpers for Nnl kernels. No toolkit header is included anywhere: fp16 and bf16 are plain
// 16-bit storage types here, converted with PTX instructions, so any NVRTC can compile the kernels.
#pragma once

typedef unsigned short nnl_half;   // IEEE binary16 bits
typedef unsigned short nnl_bf16;   // bfloat16 bits (the top half of a float)
typedef unsigned long long nnl_u64;
typedef unsigned int nnl_u32;

__device__ __forceinline__ float nnl_half_to_float(nnl_half h)
{
    float f;
    asm("{ cvt.f32.f16 %0, %1; }" : "=f"(f) : "h"(h));
    return f;
}

__device__ __forceinline__ nnl_half nnl_float_to_half(float f)
{
    nnl_half h;
    asm("{ cvt.rn.f16.f32 %0, %1; }" : "=h"(h) : "f"(f));
    return h;
}

__device__ __forceinline__ float nnl_bf16_to_float(nnl_bf16 b)
{
    return __uint_as_float(((nnl_u32)b) << 16);
}

__device__ __forceinline__ nnl_bf16 nnl_float_to_bf16(float f)
{
    nnl_bf16 b;
    asm("{ cvt.rn.bf16.f32 %0, %1; }" : "=h"(b) : "f"(f));
    return b;
}

// Grid-stride loop index helpers: every kernel tolerates any grid size.
__device__ __forceinline__ size_t nnl_global_thread() { return (size_t)blockIdx.x * blockDim.x + threadIdx.x; }
__device__ __forceinline__ size_t nnl_grid_threads() { return (size_t)gridDim.x * blockDim.x; }

// Sum across a warp (all 32 lanes participate).
__device__ __forceinline__ float nnl_warp_sum(float v)
{
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ float nnl_warp_max(float v)
{
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// A fast, well-mixed 32-bit hash (lowbias32), used for deterministic fill patterns.
__device__ __forceinline__ nnl_u32 nnl_hash32(nnl_u32 x)
{
    x ^= x >> 16; x *= 0x7feb352dU;
    x ^= x >> 15; x *= 0x846ca68bU;
    x ^= x >> 16;
    return x;
}
