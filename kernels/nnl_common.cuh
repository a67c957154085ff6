// Shared helpers for Nnl kernels. No toolkit header is included anywhere: fp16 and bf16 are plain
// 16-bit storage types here, converted with PTX instructions, so any NVRTC can compile the kernels.
#pragma once

typedef unsigned short nnl_half;   // IEEE binary16 bits
typedef unsigned short nnl_bf16;   // bfloat16 bits (the top half of a float)
typedef unsigned long long nnl_u64;
typedef unsigned int nnl_u32;

// No math.h: infinities come from their bit patterns.
#define NNL_NEG_INF __int_as_float(0xff800000)
#define NNL_POS_INF __int_as_float(0x7f800000)
#define NNL_NAN __int_as_float(0x7fffffff)

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
// gelu_new (GPT-2's tanh approximation): gelu.cu and the matrix products' epilogue share it, so a
// fused epilogue gives the same bits as the separate kernel.
__device__ __forceinline__ float nnl_gelu_new_f(float v)
{
    const float c = 0.7978845608028654f; // sqrt(2/pi)
    return 0.5f * v * (1.0f + tanhf(c * (v + 0.044715f * v * v * v)));
}

// Epilogue of the matrix products (the host's MatMulEpilogue, same numbers): what s = x·W + bias
// becomes in y. 1 adds into y (the fused residual: y + s, as nnl_add computes it); 2 stores gelu_new(s).
#define NNL_EPILOGUE_STORE 0
#define NNL_EPILOGUE_ACCUMULATE 1
#define NNL_EPILOGUE_GELU_NEW 2

__device__ __forceinline__ void nnl_store_epilogue(float* y, float s, int epilogue)
{
    *y = epilogue == NNL_EPILOGUE_ACCUMULATE ? *y + s : epilogue == NNL_EPILOGUE_GELU_NEW ? nnl_gelu_new_f(s) : s;
}

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

// ---------------------------------------------------------------------------------------------
// Weight element types. Kernels are templates over the storage type of their weights (W) and turn
// every element into fp32 at load; one extern "C" entry per type (suffix _f16, _bf16, _f32).
// nnl_half and nnl_bf16 are both unsigned short, so the tag structs below tell them apart.
// ---------------------------------------------------------------------------------------------
struct nnl_f16_t { typedef nnl_half storage; };
struct nnl_bf16_t { typedef nnl_bf16 storage; };
struct nnl_f32_t { typedef float storage; };

template <typename T> struct nnl_type;
template <> struct nnl_type<nnl_f16_t>
{
    typedef nnl_half storage;
    static __device__ __forceinline__ float load(const storage* p, size_t i) { return nnl_half_to_float(p[i]); }
    static __device__ __forceinline__ storage from_float(float f) { return nnl_float_to_half(f); }
};
template <> struct nnl_type<nnl_bf16_t>
{
    typedef nnl_bf16 storage;
    static __device__ __forceinline__ float load(const storage* p, size_t i) { return nnl_bf16_to_float(p[i]); }
    static __device__ __forceinline__ storage from_float(float f) { return nnl_float_to_bf16(f); }
};
template <> struct nnl_type<nnl_f32_t>
{
    typedef float storage;
    static __device__ __forceinline__ float load(const storage* p, size_t i) { return p[i]; }
    static __device__ __forceinline__ storage from_float(float f) { return f; }
};

// Two packed 16-bit values (low half first in memory) to two floats.
__device__ __forceinline__ void nnl_unpack2(nnl_f16_t, nnl_u32 w, float& a, float& b)
{
    a = nnl_half_to_float((nnl_half)(w & 0xffffu));
    b = nnl_half_to_float((nnl_half)(w >> 16));
}
__device__ __forceinline__ void nnl_unpack2(nnl_bf16_t, nnl_u32 w, float& a, float& b)
{
    a = __uint_as_float(w << 16);
    b = __uint_as_float(w & 0xffff0000u);
}

// One 16-byte vector of weights as floats: 8 for 16-bit types, 4 for fp32.
template <typename T> struct nnl_vec;
template <> struct nnl_vec<nnl_f16_t>
{
    enum { width = 8 };
    static __device__ __forceinline__ void unpack(uint4 v, float* f)
    {
        nnl_unpack2(nnl_f16_t(), v.x, f[0], f[1]); nnl_unpack2(nnl_f16_t(), v.y, f[2], f[3]);
        nnl_unpack2(nnl_f16_t(), v.z, f[4], f[5]); nnl_unpack2(nnl_f16_t(), v.w, f[6], f[7]);
    }
};
template <> struct nnl_vec<nnl_bf16_t>
{
    enum { width = 8 };
    static __device__ __forceinline__ void unpack(uint4 v, float* f)
    {
        nnl_unpack2(nnl_bf16_t(), v.x, f[0], f[1]); nnl_unpack2(nnl_bf16_t(), v.y, f[2], f[3]);
        nnl_unpack2(nnl_bf16_t(), v.z, f[4], f[5]); nnl_unpack2(nnl_bf16_t(), v.w, f[6], f[7]);
    }
};
template <> struct nnl_vec<nnl_f32_t>
{
    enum { width = 4 };
    static __device__ __forceinline__ void unpack(uint4 v, float* f)
    {
        f[0] = __uint_as_float(v.x); f[1] = __uint_as_float(v.y);
        f[2] = __uint_as_float(v.z); f[3] = __uint_as_float(v.w);
    }
};

// Streaming 16-byte load that does not keep the line in L1: weights are read once per step.
__device__ __forceinline__ uint4 nnl_load_stream(const void* p)
{
    uint4 v;
    asm volatile("{ ld.global.nc.L1::no_allocate.v4.u32 {%0,%1,%2,%3}, [%4]; }"
                 : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w) : "l"(p));
    return v;
}

__device__ __forceinline__ bool nnl_aligned16(const void* p) { return ((size_t)p & 15) == 0; }
__device__ __forceinline__ bool nnl_aligned8(const void* p) { return ((size_t)p & 7) == 0; }

// The norms (layernorm.cu, rmsnorm.cu) keep a row in registers: NNL_NORM_VECTORS float4 slices a
// thread, so rows up to 16 * blockDim.x floats are read from memory once (GPT-2-XL's 1600 with
// 128 threads, Llama-2-13B's 5120 with 320). Rows too long, or not float4-aligned, take a plain loop.
#define NNL_NORM_VECTORS 4

__device__ __forceinline__ bool nnl_norm_row_fits(const float* x, const float* y, int dim)
{
    return (dim & 3) == 0 && nnl_aligned16(x) && nnl_aligned16(y) && dim / 4 <= NNL_NORM_VECTORS * (int)blockDim.x;
}

// Slice j of this thread is float4 number threadIdx.x + j * blockDim.x of the row; past the end, zeros.
__device__ __forceinline__ void nnl_norm_load_row(float4 (&v)[NNL_NORM_VECTORS], const float* row, int nvec)
{
#pragma unroll
    for (int j = 0; j < NNL_NORM_VECTORS; j++)
    {
        int i = threadIdx.x + j * blockDim.x;
        if (i < nvec) v[j] = ((const float4*)row)[i];
        else v[j].x = v[j].y = v[j].z = v[j].w = 0.0f;
    }
}

// A norm's 16-bit weights (or biases) for this thread's slices of the row, four a slice (8 bytes), read
// into registers before the wait: they are the same for every row, and the row's end is then no round
// trip to L2 (GPT-2-XL 1.552 against 1.582 ms/token on the H200). fp32 weights, unaligned ones, rows off
// the register path, and a null pointer are read where used instead (zeros for null).
template <typename T>
struct nnl_norm_held
{
    typedef typename nnl_type<T>::storage S;
    static constexpr bool packed = sizeof(S) == 2;
    uint2 h[NNL_NORM_VECTORS];
    bool held;

    __device__ __forceinline__ void load(const S* p, int nvec, bool registers)
    {
        held = packed && p && registers && nnl_aligned8(p);
#pragma unroll
        for (int j = 0; j < NNL_NORM_VECTORS; j++)
        {
            int i = threadIdx.x + j * blockDim.x;
            h[j] = held && i < nvec ? ((const uint2*)p)[i] : uint2{0u, 0u};
        }
    }

    // The four values of slice j, elements e .. e + 3 (e = 4 · its float4 index).
    __device__ __forceinline__ void get(const S* p, int j, int e, float (&g)[4]) const
    {
        if constexpr (packed)
            if (held)
            {
                nnl_unpack2(T(), h[j].x, g[0], g[1]);
                nnl_unpack2(T(), h[j].y, g[2], g[3]);
                return;
            }
#pragma unroll
        for (int t = 0; t < 4; t++) g[t] = p ? nnl_type<T>::load(p, e + t) : 0.0f;
    }
};

// Sum / max across a whole block (blockDim.x a multiple of 32, at most 1024). Every thread gets
// the result. `scratch` holds 32 floats of shared memory; the call synchronises the block.
__device__ __forceinline__ float nnl_block_sum(float v, float* scratch)
{
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = (blockDim.x + 31) >> 5;
    v = nnl_warp_sum(v);
    __syncthreads();                       // scratch may still be read by a previous call
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    v = lane < warps ? scratch[lane] : 0.0f;
    return nnl_warp_sum(v);
}

__device__ __forceinline__ float nnl_block_max(float v, float* scratch)
{
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = (blockDim.x + 31) >> 5;
    v = nnl_warp_max(v);
    __syncthreads();
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    v = lane < warps ? scratch[lane] : NNL_NEG_INF;
    return nnl_warp_max(v);
}

// Programmatic dependent launch (sm_90 and later). The host may launch a kernel with a
// programmatic dependency on the kernel before it (CUDA graph edges of that type): its blocks then
// start while the previous kernel still runs, so its launch overlaps the previous kernel's tail
// instead of following it. Such a kernel must not touch memory that earlier kernels write or read
// before nnl_grid_wait() returns (it returns once they have all completed and their writes are
// visible); nnl_launch_dependents() lets the next kernel start launching. Every entry begins with
// nnl_grid_begin() (both). The build compiles each file twice: compute_80 PTX, where these are
// empty, and an sm_90 set with NNL_GRID_DEPENDENCY defined (tools/Nnl.BuildTools/KernelCompiler.cs).
// Tried and dropped (H200, 2026-11-21): prefetching a product's weights into L2 before the wait.
// A block's whole share of the matrix made GPT-2-XL's decode step 15 % slower (the prefetched
// lines evicted one another), and a flat split of the matrix over every warp, prefetching only its
// first lines, was slower than the row variants. So were (fifth session, branch experiment/staged-gemv,
// docs/performance.md): copying a product's first weights into shared memory with cp.async before the
// wait, letting the next kernel launch before this one's wait, and each product prefetching the next
// product's weights into L2. Sixth session: the register GEMV asking L2 for its rows with
// cp.async.bulk.prefetch before the wait (16 KB to 1 MB a block: 3 to 12 % slower, the more the
// slower), or loading its second row before the wait as well as its first (10 % slower), and a norm
// folded into the register GEMV (branch experiment/norm-fold: 4 % slower). Eighth session: the norm
// before a product asking L2 for that product's weights, from blocks added to its launch or its own
// thread (branch experiment/gap-prefetch: 1 to 177 % slower). What did pay before the
// wait is small and read late: the norms' weights, the GEMV's bias, attention's cached keys.
#ifdef NNL_GRID_DEPENDENCY
__device__ __forceinline__ void nnl_grid_wait() { asm volatile("griddepcontrol.wait;" ::: "memory"); }
__device__ __forceinline__ void nnl_launch_dependents() { asm volatile("griddepcontrol.launch_dependents;" ::: "memory"); }
#else
__device__ __forceinline__ void nnl_grid_wait() {}
__device__ __forceinline__ void nnl_launch_dependents() {}
#endif

// Asks L2 for the 128-byte line that holds p (no register, no wait): for weights a kernel reads only
// after nnl_grid_wait() and would otherwise fetch from DRAM then.
__device__ __forceinline__ void nnl_prefetch_l2(const void* p) { asm volatile("prefetch.global.L2 [%0];" ::"l"(p)); }

// The shared-memory address of p (a generic pointer into shared memory), as cp.async takes it.
__device__ __forceinline__ unsigned nnl_shared_address(const void* p)
{
    unsigned a;
    asm("{ .reg .u64 t; cvta.to.shared.u64 t, %1; cvt.u32.u64 %0, t; }" : "=r"(a) : "l"(p));
    return a;
}

// The block asks L2 for bytes [p, p + bytes): a norm's weight and bias before its wait.
__device__ __forceinline__ void nnl_prefetch_l2_block(const void* p, size_t bytes)
{
    for (size_t o = (size_t)threadIdx.x * 128; o < bytes; o += (size_t)blockDim.x * 128) nnl_prefetch_l2((const char*)p + o);
}

// Waits for the kernels this one depends on, then lets the next one launch: a chain of kernels
// runs at most one ahead, so waiting blocks never crowd out the running kernel's.
__device__ __forceinline__ void nnl_grid_begin()
{
    nnl_grid_wait();
    nnl_launch_dependents();
}

// Declares the three extern "C" entries of a weight-typed kernel template:
// NNL_WEIGHT_ENTRIES(name, params, args) makes name_f16, name_bf16 and name_f32 that begin
// (nnl_grid_begin) and call name_impl<type>(args). Weight pointers are `const void*` in params;
// the template casts them to the storage type, so the host passes device pointers the same way
// for every type. NNL_WEIGHT_ENTRIES_SELF_BEGUN is for an impl that calls nnl_grid_begin() itself
// (the GEMVs: the fused norm GEMV prefetches its weights first).
#define NNL_WEIGHT_ENTRIES_SELF_BEGUN(name, params, args)                                        \
    extern "C" __global__ void name##_f16 params { name##_impl<nnl_f16_t> args; }                \
    extern "C" __global__ void name##_bf16 params { name##_impl<nnl_bf16_t> args; }              \
    extern "C" __global__ void name##_f32 params { name##_impl<nnl_f32_t> args; }
#define NNL_WEIGHT_ENTRIES(name, params, args)                                                   \
    extern "C" __global__ void name##_f16 params { nnl_grid_begin(); name##_impl<nnl_f16_t> args; }   \
    extern "C" __global__ void name##_bf16 params { nnl_grid_begin(); name##_impl<nnl_bf16_t> args; } \
    extern "C" __global__ void name##_f32 params { nnl_grid_begin(); name##_impl<nnl_f32_t> args; }
