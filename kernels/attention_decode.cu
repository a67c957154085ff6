// Decode attention, flash-decoding style: each row (one new token of the sequence in cache slot
// slots[row], at positions[row]) attends to that slot's cache positions first..positions[row],
// first = 0, or positions[row] - window + 1 (clipped at 0) with a sliding window (Mistral).
// The visible range is cut into splits of split_len positions so that a long context keeps every SM busy
// even for one sequence: grid (n_splits, n_heads, n_rows), each block scores one split for one head
// (its warps share the split) and writes a partial result (unnormalised output, max, sum); the
// last block of a (row, head) to finish (atomic counter) merges the splits in split order: one
// launch, deterministic results.
// Given the new keys and values (k_new, v_new non-null: the columns of the qkv product), the launch also
// stores them: each row's own position is attended from k_new / v_new (rounded to the cache type, as a
// store would) instead of the cache, and the block whose split holds it, of the first head of each KV
// group, writes it into the cache. That saves the KV store's launch, a stage of every decode layer; it
// needs each row in its own slot (no row may see another new row's position), which the host checks.
#include "nnl_attention.cuh"

// A block's warps share its split; their partial outputs meet in NNL_DECODE_ACC floats of shared
// memory, so a block holds up to 64 / NI warps (32 at head size 64, 16 at 128, 8 at 256).
#define NNL_DECODE_MAX_WARPS 32
#define NNL_DECODE_ACC 2048

// out = sum_s acc_s e^(m_s - M) / sum_s l_s e^(m_s - M), M = max_s m_s, for one (row, head);
// the block's threads walk head_dim. Empty splits (m = -inf) weigh nothing.
__device__ __forceinline__ void nnl_decode_merge(const volatile float* p, float* o, int head_dim, int n_splits)
{
    float mx = NNL_NEG_INF;
    for (int s = 0; s < n_splits; s++) mx = fmaxf(mx, p[(size_t)s * (head_dim + 2) + head_dim]);
    float sum = 0.0f;
    for (int s = 0; s < n_splits; s++)
    {
        float ms = p[(size_t)s * (head_dim + 2) + head_dim];
        if (ms != NNL_NEG_INF) sum += p[(size_t)s * (head_dim + 2) + head_dim + 1] * expf(ms - mx);
    }
    float inv = 1.0f / sum;
    for (int d = threadIdx.x; d < head_dim; d += blockDim.x)
    {
        float a = 0.0f;
        for (int s = 0; s < n_splits; s++)
        {
            float ms = p[(size_t)s * (head_dim + 2) + head_dim];
            if (ms != NNL_NEG_INF) a += p[(size_t)s * (head_dim + 2) + d] * expf(ms - mx);
        }
        o[d] = a * inv;
    }
}

// One more key in a warp's running softmax: the new token's, from fp32 values rounded to the cache type T
// (so it scores exactly as the stored key will when later rows read it back).
template <typename T, int NI>
__device__ __forceinline__ void nnl_attend_new(const float (&q)[NI], const float* k, const float* v, int head_dim,
                                               float& m, float& l, float (&acc)[NI])
{
    typedef nnl_type<T> L;
    int lane = threadIdx.x & 31;
    float kr[1][NI], vr[1][NI];
#pragma unroll
    for (int i = 0; i < NI; i++)
    {
        int d = lane + 32 * i;
        typename L::storage ks = L::from_float(d < head_dim ? k[d] : 0.0f), vs = L::from_float(d < head_dim ? v[d] : 0.0f);
        kr[0][i] = L::load(&ks, 0);
        vr[0][i] = L::load(&vs, 0);
    }
    nnl_attend_update<NI, 1>(q, kr, vr, 0, 1, m, l, acc);
}

template <typename T, int NI>
__device__ __forceinline__ void nnl_attention_decode_body(
    const float* q, const void* k_cache_, const void* v_cache_, float* out, float* partial, nnl_u32* counters,
    const int* positions, const int* slots,
    int n_heads, int n_kv_heads, int head_dim, int q_stride, int max_seq, int split_len, int window, float scale,
    const float* k_new, const float* v_new, int k_new_stride, int v_new_stride)
{
    typedef typename nnl_type<T>::storage S;
    __shared__ bool last;
    __shared__ float sm_acc[NNL_DECODE_ACC];   // [warps][32 * NI]
    __shared__ float sm_m[NNL_DECODE_MAX_WARPS], sm_l[NNL_DECODE_MAX_WARPS], sm_w[NNL_DECODE_MAX_WARPS];
    int split = blockIdx.x, h = blockIdx.y, row = blockIdx.z, n_splits = gridDim.x;
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    int warps = min((int)(blockDim.x >> 5), NNL_DECODE_ACC / (32 * NI));
    size_t kv_dim = (size_t)n_kv_heads * head_dim;
    int kvh = h / (n_heads / n_kv_heads);
    int kv_len = min(positions[row] + 1, max_seq);
    size_t slot = slots ? (size_t)slots[row] : 0;
    int first = window > 0 ? max(0, positions[row] - window + 1) : 0;
    int begin = first + split * split_len, end = min(begin + split_len, kv_len);
    // With the new keys given, the row's own position p comes from them, not from the cache.
    int p = positions[row];
    int cached_end = k_new ? min(end, p) : end;
    int per_warp = (end - begin + warps - 1) / warps;
    int wb = begin + warp * per_warp, we = min(wb + per_warp, end), wce = min(we, cached_end);
    const S* kc = (const S*)k_cache_ + slot * max_seq * kv_dim + (size_t)kvh * head_dim;
    const S* vc = (const S*)v_cache_ + slot * max_seq * kv_dim + (size_t)kvh * head_dim;
    // The cached positions before p were written by earlier steps (the batch block too, before the
    // step), so with the new keys given (the launch stores nothing else) a warp loads its first keys
    // and values before it waits for the qkv product: their DRAM round trip overlaps the product's tail.
    // Without them this launch's rows may have been stored by the kernel just before: wait first.
    constexpr int KEYS = NNL_ATTEND_KEYS(NI);
    float kr[KEYS][NI], vr[KEYS][NI];
    bool early = k_new && warp < warps && wb < wce;
    if (early) nnl_attend_load<T, NI, KEYS>(kc, vc, kv_dim, wb, wce, head_dim, kr, vr);
    nnl_grid_begin();
    const float* kn = k_new ? k_new + (size_t)row * k_new_stride + (size_t)kvh * head_dim : nullptr;
    const float* vn = k_new ? v_new + (size_t)row * v_new_stride + (size_t)kvh * head_dim : nullptr;
    if (k_new && p >= begin && p < end && h % (n_heads / n_kv_heads) == 0)
    {
        typedef nnl_type<T> L;
        size_t at = (slot * max_seq + p) * kv_dim + (size_t)kvh * head_dim;
        for (int d = threadIdx.x; d < head_dim; d += blockDim.x)
        {
            ((S*)k_cache_)[at + d] = L::from_float(kn[d]);
            ((S*)v_cache_)[at + d] = L::from_float(vn[d]);
        }
    }
    float m = NNL_NEG_INF, l = 0.0f, acc[NI];
#pragma unroll
    for (int i = 0; i < NI; i++) acc[i] = 0.0f;
    if (warp < warps && begin < end)
    {
        float qv[NI];
        nnl_load_query<NI>(q + (size_t)row * q_stride + (size_t)h * head_dim, head_dim, scale, qv);
        int from = wb;
        if (early)
        {
            nnl_attend_update<NI, KEYS>(qv, kr, vr, wb, wce, m, l, acc);
            from = wb + KEYS;
        }
        if (from < wce) nnl_attend<T, NI, KEYS>(qv, kc, vc, kv_dim, from, wce, head_dim, m, l, acc);
        if (k_new && p >= wb && p < we) nnl_attend_new<T, NI>(qv, kn, vn, head_dim, m, l, acc);
    }
    if (warp < warps)
    {
#pragma unroll
        for (int i = 0; i < NI; i++) sm_acc[warp * (32 * NI) + lane + 32 * i] = acc[i];
        if (lane == 0) { sm_m[warp] = m; sm_l[warp] = l; }
    }
    __syncthreads();
    // Each warp's weight in the block's result, e^(m_w - max); 0 for a warp that saw no position.
    if (threadIdx.x < warps)
    {
        float mx = NNL_NEG_INF;
        for (int w = 0; w < warps; w++) mx = fmaxf(mx, sm_m[w]);
        float mw = sm_m[threadIdx.x];
        sm_w[threadIdx.x] = mw != NNL_NEG_INF ? expf(mw - mx) : 0.0f;
    }
    __syncthreads();
    float mx = NNL_NEG_INF, sum = 0.0f;
    for (int w = 0; w < warps; w++) { mx = fmaxf(mx, sm_m[w]); sum += sm_l[w] * sm_w[w]; }
    if (n_splits == 1)
    {
        // The whole context in one block (short contexts): its warps' results are the answer, with
        // no partial write, fence, counter or second pass; the same arithmetic as the merge of one split.
        float inv = 1.0f / sum;
        float* o = out + (size_t)row * n_heads * head_dim + (size_t)h * head_dim;
        for (int d = threadIdx.x; d < head_dim; d += blockDim.x)
        {
            float a = 0.0f;
            for (int w = 0; w < warps; w++) a += sm_acc[w * (32 * NI) + d] * sm_w[w];
            o[d] = a * inv;
        }
        return;
    }
    float* mine = partial + (((size_t)row * n_heads + h) * n_splits + split) * (head_dim + 2);
    for (int d = threadIdx.x; d < head_dim; d += blockDim.x)
    {
        float a = 0.0f;
        for (int w = 0; w < warps; w++) a += sm_acc[w * (32 * NI) + d] * sm_w[w];
        mine[d] = a;
    }
    if (threadIdx.x == 0)
    {
        mine[head_dim] = mx;          // -inf for an empty split (past this sequence's length)
        mine[head_dim + 1] = sum;
    }
    // Publish, count the finished splits of this (row, head); the last one merges them all.
    __threadfence();
    __syncthreads();
    nnl_u32* counter = counters + (size_t)row * n_heads + h;
    if (threadIdx.x == 0) last = atomicAdd(counter, 1u) == (nnl_u32)n_splits - 1;
    __syncthreads();
    if (!last) return;
    __threadfence();
    nnl_decode_merge(partial + ((size_t)row * n_heads + h) * n_splits * (head_dim + 2),
                     out + (size_t)row * n_heads * head_dim + (size_t)h * head_dim, head_dim, n_splits);
    if (threadIdx.x == 0) *counter = 0;   // ready for the next launch
}

// Grid (n_splits, n_heads, n_rows) with n_splits = ceil(max visible positions / split_len); block: 32 to
// 512 threads (96 registers; warps past 64 / NI idle). head_dim <= 256. counters: n_rows * n_heads zero words,
// left zero. One split (a short context) writes out directly and leaves partial unused.
template <typename T>
__device__ __forceinline__ void nnl_attention_decode_impl(
    const float* q,          // [n_rows, q_stride]; head h at columns [h*head_dim, (h+1)*head_dim)
    const void* k_cache,     // [n_slots, max_seq, n_kv_heads * head_dim]
    const void* v_cache,     // [n_slots, max_seq, n_kv_heads * head_dim]
    float* out,              // [n_rows, n_heads * head_dim]
    float* partial,          // [n_rows, n_heads, n_splits, head_dim + 2] workspace
    nnl_u32* counters,       // [n_rows, n_heads], zero before the launch
    const int* positions,    // [n_rows]
    const int* slots,        // [n_rows] or null (all slot 0)
    int n_heads, int n_kv_heads, int head_dim, int q_stride, int max_seq, int split_len,
    int window,              // sliding window (positions a row sees, itself included); 0 = whole context
    float scale,
    const float* k_new,      // [n_rows, k_new_stride] the rows' new keys to store and attend, or null (already stored)
    const float* v_new,      // [n_rows, v_new_stride] their values (null with k_new)
    int k_new_stride, int v_new_stride)
{
#define NNL_CALL(NI) nnl_attention_decode_body<T, NI>(q, k_cache, v_cache, out, partial, counters, positions, slots, n_heads, n_kv_heads, head_dim, q_stride, max_seq, split_len, window, scale, k_new, v_new, k_new_stride, v_new_stride)
    NNL_DISPATCH_HEAD_DIM(head_dim, NNL_CALL)
#undef NNL_CALL
}

NNL_WEIGHT_ENTRIES_SELF_BEGUN(nnl_attention_decode,
    (const float* q, const void* k_cache, const void* v_cache, float* out, float* partial, nnl_u32* counters,
     const int* positions, const int* slots,
     int n_heads, int n_kv_heads, int head_dim, int q_stride, int max_seq, int split_len, int window, float scale,
     const float* k_new, const float* v_new, int k_new_stride, int v_new_stride),
    (q, k_cache, v_cache, out, partial, counters, positions, slots, n_heads, n_kv_heads, head_dim, q_stride, max_seq, split_len, window, scale,
     k_new, v_new, k_new_stride, v_new_stride))
