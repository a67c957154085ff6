// The attention inner loop shared by prefill and decode: one warp attends one query head over a
// range of cached positions with an online (running max) softmax, so scores are never stored.
// Lane L owns dimensions L, L+32, L+64, ... of the head (NI of them, head_dim <= 32*NI); a score is
// a warp-wide sum, so every lane holds every score and updates its own slice of the output.
#pragma once
#include "nnl_common.cuh"

#define NNL_ATTN_MAX_HEAD_DIM 256
#define NNL_ATTN_KEYS 4        // keys scored per step (independent shuffles in flight)

template <typename T, int NI>
__device__ __forceinline__ void nnl_attend(
    const float (&q)[NI],                          // this lane's query slice, already scaled
    const typename nnl_type<T>::storage* k,        // key of position 0 for this kv head; row stride kv_stride
    const typename nnl_type<T>::storage* v,        // value of position 0 for this kv head
    size_t kv_stride, int begin, int end, int head_dim,
    float& m, float& l, float (&acc)[NI])          // running max, running sum, unnormalised output
{
    typedef nnl_type<T> L;
    int lane = threadIdx.x & 31;
    for (int j = begin; j < end; j += NNL_ATTN_KEYS)
    {
        float s[NNL_ATTN_KEYS];
#pragma unroll
        for (int g = 0; g < NNL_ATTN_KEYS; g++)
        {
            s[g] = 0.0f;
            if (j + g < end)
            {
                const typename L::storage* kr = k + (size_t)(j + g) * kv_stride;
#pragma unroll
                for (int i = 0; i < NI; i++)
                {
                    int d = lane + 32 * i;
                    if (d < head_dim) s[g] += q[i] * L::load(kr, d);
                }
            }
        }
#pragma unroll
        for (int o = 16; o > 0; o >>= 1)
#pragma unroll
            for (int g = 0; g < NNL_ATTN_KEYS; g++) s[g] += __shfl_xor_sync(0xffffffffu, s[g], o);
        float mx = m;
#pragma unroll
        for (int g = 0; g < NNL_ATTN_KEYS; g++) if (j + g < end) mx = fmaxf(mx, s[g]);
        float corr = expf(m - mx);                 // m = -inf on the first step: corr = 0
        float p[NNL_ATTN_KEYS];
        float psum = 0.0f;
#pragma unroll
        for (int g = 0; g < NNL_ATTN_KEYS; g++) { p[g] = j + g < end ? expf(s[g] - mx) : 0.0f; psum += p[g]; }
        l = l * corr + psum;
#pragma unroll
        for (int i = 0; i < NI; i++)
        {
            int d = lane + 32 * i;
            float a = acc[i] * corr;
            if (d < head_dim)
#pragma unroll
                for (int g = 0; g < NNL_ATTN_KEYS; g++)
                    if (j + g < end) a += p[g] * L::load(v, (size_t)(j + g) * kv_stride + d);
            acc[i] = a;
        }
        m = mx;
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
