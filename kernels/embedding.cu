// Token embedding lookup, with GPT-2's learned position embedding added when pos_table is given.
#include "nnl_common.cuh"

// Any grid (grid-stride over n_tokens*dim). A token id outside [0, vocab) or a position outside
// [0, n_pos) gives a row of NaN, so a bad id shows in the logits instead of reading foreign memory.
template <typename T>
__device__ __forceinline__ void nnl_embedding_impl(
    const int* __restrict__ tokens,     // [n_tokens]
    const void* table_,                 // [vocab, dim]
    const void* pos_table_,             // [n_pos, dim] or null (no position embedding)
    const int* __restrict__ positions,  // [n_tokens] (read only when pos_table is given)
    float* __restrict__ out,            // [n_tokens, dim]
    int n_tokens, int dim, int vocab, int n_pos)
{
    typedef nnl_type<T> L;
    const typename L::storage* table = (const typename L::storage*)table_;
    const typename L::storage* pos_table = (const typename L::storage*)pos_table_;
    size_t total = (size_t)n_tokens * dim;
    for (size_t i = nnl_global_thread(); i < total; i += nnl_grid_threads())
    {
        int t = (int)(i / dim), d = (int)(i % dim);
        int tok = tokens[t];
        float v = tok >= 0 && tok < vocab ? L::load(table, (size_t)tok * dim + d) : NNL_NAN;
        if (pos_table)
        {
            int p = positions[t];
            v += p >= 0 && p < n_pos ? L::load(pos_table, (size_t)p * dim + d) : NNL_NAN;
        }
        out[i] = v;
    }
}

NNL_WEIGHT_ENTRIES(nnl_embedding,
    (const int* tokens, const void* table, const void* pos_table, const int* positions, float* out, int n_tokens, int dim, int vocab, int n_pos),
    (tokens, table, pos_table, positions, out, n_tokens, dim, vocab, n_pos))
