// Causal attention for prefill over the KV cache, grouped-query (n_heads a multiple of n_kv_heads).
// The keys and values of the new tokens are appended to the cache first (kv_cache.cu); row t, of
// the sequence in cache slot slots[t] at position positions[t], attends to that slot's cache
// positions 0..positions[t] (with a sliding window w > 0, Mistral: positions[t] - w + 1 ..
// positions[t], clipped at 0). Rows of several sequences may be mixed (ragged batches).
#include "nnl_attention.cuh"

template <typename T, int NI>
__device__ __forceinline__ void nnl_attention_prefill_body(
    const float* q, const void* k_cache_, const void* v_cache_, float* out, const int* positions, const int* slots,
    int n_tokens, int n_heads, int n_kv_heads, int head_dim, int q_stride, int max_seq, int window, float scale)
{
    typedef typename nnl_type<T>::storage S;
    const S* k_cache = (const S*)k_cache_;
    const S* v_cache = (const S*)v_cache_;
    int lane = threadIdx.x & 31;
    int warps_per_block = blockDim.x >> 5;
    size_t total = (size_t)n_tokens * n_heads;
    size_t kv_dim = (size_t)n_kv_heads * head_dim;
    int group = n_heads / n_kv_heads;
    // Consecutive warps take the heads of one token, so the heads sharing a kv head read the same
    // cache rows close together in time (L1/L2 hits).
    for (size_t wi = (size_t)blockIdx.x * warps_per_block + (threadIdx.x >> 5); wi < total; wi += (size_t)gridDim.x * warps_per_block)
    {
        int h = (int)(wi % n_heads), t = (int)(wi / n_heads);
        int kvh = h / group;
        int end = min(positions[t] + 1, max_seq);
        int begin = window > 0 ? max(0, positions[t] - window + 1) : 0;
        size_t slot_offset = (slots ? (size_t)slots[t] : 0) * max_seq * kv_dim;
        float qv[NI], acc[NI];
        nnl_load_query<NI>(q + (size_t)t * q_stride + (size_t)h * head_dim, head_dim, scale, qv);
#pragma unroll
        for (int i = 0; i < NI; i++) acc[i] = 0.0f;
        float m = NNL_NEG_INF, l = 0.0f;
        nnl_attend<T, NI>(qv, k_cache + slot_offset + (size_t)kvh * head_dim, v_cache + slot_offset + (size_t)kvh * head_dim, kv_dim, begin, end, head_dim, m, l, acc);
        float inv = 1.0f / l;
        float* o = out + (size_t)t * n_heads * head_dim + (size_t)h * head_dim;
#pragma unroll
        for (int i = 0; i < NI; i++)
        {
            int d = lane + 32 * i;
            if (d < head_dim) o[d] = acc[i] * inv;
        }
    }
}

// One warp per (token, head); block: any multiple of 32 threads (128 suggested); grid:
// ceil(n_tokens * n_heads / warps per block), fewer is fine (grid-stride). head_dim <= 256
// (a larger head_dim leaves out untouched; the host rejects such models).
template <typename T>
__device__ __forceinline__ void nnl_attention_prefill_impl(
    const float* q,          // [n_tokens, q_stride]; head h at columns [h*head_dim, (h+1)*head_dim)
    const void* k_cache,     // [n_slots, max_seq, n_kv_heads * head_dim]
    const void* v_cache,     // [n_slots, max_seq, n_kv_heads * head_dim]
    float* out,              // [n_tokens, n_heads * head_dim]
    const int* positions,    // [n_tokens]
    const int* slots,        // [n_tokens] or null (all slot 0)
    int n_tokens, int n_heads, int n_kv_heads, int head_dim, int q_stride, int max_seq,
    int window,              // sliding window (positions a row sees, itself included); 0 = whole context
    float scale)
{
#define NNL_CALL(NI) nnl_attention_prefill_body<T, NI>(q, k_cache, v_cache, out, positions, slots, n_tokens, n_heads, n_kv_heads, head_dim, q_stride, max_seq, window, scale)
    NNL_DISPATCH_HEAD_DIM(head_dim, NNL_CALL)
#undef NNL_CALL
}

NNL_WEIGHT_ENTRIES(nnl_attention_prefill,
    (const float* q, const void* k_cache, const void* v_cache, float* out, const int* positions, const int* slots,
     int n_tokens, int n_heads, int n_kv_heads, int head_dim, int q_stride, int max_seq, int window, float scale),
    (q, k_cache, v_cache, out, positions, slots, n_tokens, n_heads, n_kv_heads, head_dim, q_stride, max_seq, window, scale))
