// KV cache append: the keys and values of new tokens go to their positions in the cache, converted
// to the cache's element type (fp32, fp16 or bf16 — the suffix names the cache type).
#include "nnl_common.cuh"

// Any grid (grid-stride over n_tokens * kv_dim). Token t goes to row positions[t] of sequence
// seqs[t] (sequence 0 when seqs is null); a position outside [0, max_seq) is skipped (the host
// checks lengths before it launches).
template <typename T>
__device__ __forceinline__ void nnl_kv_append_impl(
    const float* k,          // [n_tokens, src_stride], first kv_dim columns are the keys
    const float* v,          // [n_tokens, v_stride] (k and v may be column views of one fused qkv)
    void* k_cache_,          // [n_seq, max_seq, kv_dim]
    void* v_cache_,          // [n_seq, max_seq, kv_dim]
    const int* positions,    // [n_tokens]
    const int* seqs,         // [n_tokens] or null
    int n_tokens, int kv_dim, int src_stride, int max_seq, int v_stride)
{
    typedef nnl_type<T> L;
    typename L::storage* k_cache = (typename L::storage*)k_cache_;
    typename L::storage* v_cache = (typename L::storage*)v_cache_;
    size_t total = (size_t)n_tokens * kv_dim;
    for (size_t i = nnl_global_thread(); i < total; i += nnl_grid_threads())
    {
        int t = (int)(i / kv_dim), c = (int)(i % kv_dim);
        int p = positions[t];
        if (p < 0 || p >= max_seq) continue;
        size_t seq = seqs ? (size_t)seqs[t] : 0;
        size_t dst = (seq * max_seq + p) * kv_dim + c;
        k_cache[dst] = L::from_float(k[(size_t)t * src_stride + c]);
        v_cache[dst] = L::from_float(v[(size_t)t * v_stride + c]);
    }
}

NNL_WEIGHT_ENTRIES(nnl_kv_append,
    (const float* k, const float* v, void* k_cache, void* v_cache, const int* positions, const int* seqs,
     int n_tokens, int kv_dim, int src_stride, int max_seq, int v_stride),
    (k, v, k_cache, v_cache, positions, seqs, n_tokens, kv_dim, src_stride, max_seq, v_stride))
