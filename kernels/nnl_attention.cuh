// The attention inner loop shared by prefill and decode: one warp attends one query head over a
// range of cached positions with an online (running max) softmax, so scores are never stored.
// Lane L owns dimensions L, L+32, L+64, ... of the head (NI of them, head_dim <= 32*NI); a score is
// a warp-wide sum, so every lane holds every score and updates its own slice of the output.
#pragma once
#include "nnl_common.cuh"

#define NNL_ATTN_MAX_HEAD_DIM 256

// Loads of values other blocks wrote during the same kernel go to L2 (ld.cg): an SM's L1 is not
// coherent (the whole-block kernel, decoder_block.cu, writes the new key and value and attends).
template <typename T> __device__ __forceinline__ float nnl_load_cg(const typename nnl_type<T>::storage* p);
template <> __device__ __forceinline__ float nnl_load_cg<nnl_f16_t>(const nnl_half* p)
{
    unsigned short v;
    asm volatile("ld.global.cg.u16 %0, [%1];" : "=h"(v) : "l"(p));
    return nnl_half_to_float(v);
}
template <> __device__ __forceinline__ float nnl_load_cg<nnl_bf16_t>(const nnl_bf16* p)
{
    unsigned short v;
    asm volatile("ld.global.cg.u16 %0, [%1];" : "=h"(v) : "l"(p));
    return nnl_bf16_to_float(v);
}
template <> __device__ __forceinline__ float nnl_load_cg<nnl_f32_t>(const float* p) { return __ldcg(p); }

// Keys per step: every lane loads its slice of KEYS key rows and KEYS value rows before it uses any
// of them (2 * KEYS * NI loads in flight), then the KEYS warp-wide score sums run interleaved.
// 32 / NI keeps the staging registers at 64 for every head size; a kernel with fewer registers to
// spare takes fewer. Coherent: the cache is read through L2 (nnl_load_cg).
#define NNL_ATTEND_KEYS(NI) (32 / (NI))

// Loads this lane's slice of positions j .. j + KEYS - 1 (those before end) of the keys and values.
template <typename T, int NI, int KEYS, bool Coherent = false>
__device__ __forceinline__ void nnl_attend_load(
    const typename nnl_type<T>::storage* k, const typename nnl_type<T>::storage* v,
    size_t kv_stride, int j, int end, int head_dim, float (&kr)[KEYS][NI], float (&vr)[KEYS][NI])
{
    typedef nnl_type<T> L;
    int lane = threadIdx.x & 31;
#pragma unroll
    for (int g = 0; g < KEYS; g++)
#pragma unroll
        for (int i = 0; i < NI; i++)
        {
            int d = lane + 32 * i;
            bool valid = j + g < end && d < head_dim;
            size_t off = (size_t)(j + g) * kv_stride + d;
            kr[g][i] = valid ? (Coherent ? nnl_load_cg<T>(k + off) : L::load(k, off)) : 0.0f;
            vr[g][i] = valid ? (Coherent ? nnl_load_cg<T>(v + off) : L::load(v, off)) : 0.0f;
        }
}

// The running softmax over the loaded positions j .. j + KEYS - 1 (those before end).
template <int NI, int KEYS>
__device__ __forceinline__ void nnl_attend_update(
    const float (&q)[NI], const float (&kr)[KEYS][NI], const float (&vr)[KEYS][NI], int j, int end,
    float& m, float& l, float (&acc)[NI])
{
    float s[KEYS];
#pragma unroll
    for (int g = 0; g < KEYS; g++)
    {
        s[g] = 0.0f;
#pragma unroll
        for (int i = 0; i < NI; i++) s[g] += q[i] * kr[g][i];
    }
#pragma unroll
    for (int o = 16; o > 0; o >>= 1)
#pragma unroll
        for (int g = 0; g < KEYS; g++) s[g] += __shfl_xor_sync(0xffffffffu, s[g], o);
    float mx = m;
#pragma unroll
    for (int g = 0; g < KEYS; g++) if (j + g < end) mx = fmaxf(mx, s[g]);
    float corr = expf(m - mx);                 // m = -inf on the first step: corr = 0
    float psum = 0.0f;
#pragma unroll
    for (int g = 0; g < KEYS; g++) { s[g] = j + g < end ? expf(s[g] - mx) : 0.0f; psum += s[g]; }
    l = l * corr + psum;
#pragma unroll
    for (int i = 0; i < NI; i++)
    {
        float a = acc[i] * corr;
#pragma unroll
        for (int g = 0; g < KEYS; g++) a += s[g] * vr[g][i];
        acc[i] = a;
    }
    m = mx;
}

template <typename T, int NI, int KEYS = NNL_ATTEND_KEYS(NI), bool Coherent = false>
__device__ __forceinline__ void nnl_attend(
    const float (&q)[NI],                          // this lane's query slice, already scaled
    const typename nnl_type<T>::storage* k,        // key of position 0 for this kv head; row stride kv_stride
    const typename nnl_type<T>::storage* v,        // value of position 0 for this kv head
    size_t kv_stride, int begin, int end, int head_dim,
    float& m, float& l, float (&acc)[NI])          // running max, running sum, unnormalised output
{
    for (int j = begin; j < end; j += KEYS)
    {
        float kr[KEYS][NI], vr[KEYS][NI];
        nnl_attend_load<T, NI, KEYS, Coherent>(k, v, kv_stride, j, end, head_dim, kr, vr);
        nnl_attend_update<NI, KEYS>(q, kr, vr, j, end, m, l, acc);
    }
}

// Loads this lane's slice of a query head, multiplied by the softmax scale.
template <int NI>
__device__ __forceinline__ void nnl_load_query(const float* qh, int head_dim, float scale, float (&q)[NI])
{
    int lane = threadIdx.x & 31;
#pragma unroll
    for (int i = 0; i < NI; i++)
    {
        int d = lane + 32 * i;
        q[i] = d < head_dim ? qh[d] * scale : 0.0f;
    }
}

// Calls body<NI>() with the smallest register slice that fits head_dim (the choice is uniform
// across the launch, so it costs one branch).
#define NNL_DISPATCH_HEAD_DIM(head_dim, CALL)                  \
    if ((head_dim) <= 64) { CALL(2); }                         \
    else if ((head_dim) <= 128) { CALL(4); }                   \
    else if ((head_dim) <= NNL_ATTN_MAX_HEAD_DIM) { CALL(8); }
