// A whole GPT-2-style decoder block for one token in one kernel (CudaBackend.DecoderBlock):
//   x += out_proj(attention(qkv(LayerNorm1(x)))) ; x += down(gelu_new(up(LayerNorm2(x))))
// Why: as separate kernels, each of a GPT-2-XL layer's four products ramps HBM up and drains it
// again, and the norms, the KV store and attention run while no weight streams at all: the
// products reached 44-58 % of copy bandwidth and the step 35 % (docs/performance.md). Here one
// block per SM owns a fixed share of every product's rows, and each of its threads streams its
// 16-byte vectors of those rows, in order, through its own queue of NNL_DB_DEPTH shared-memory
// slots with cp.async, without regard to the phase they belong to: while a block waits for the
// others (the qkv products before attention, attention before the output projection, ...), the
// next phase's rows keep arriving, so the weight stream never stops. A thread reads back only what
// it copied itself, so the stream needs no block-wide synchronisation (a first version with a
// block-wide ring of 16 KB slots, two barriers a slot, took 100 us a GPT-2-XL layer against 52).
//
// Launch: grid = the SM count (every block must be resident: the phases wait for each other through
// `counters`); NNL_DB_THREADS threads; dynamic shared memory NNL_DB_DEPTH * NNL_DB_VECTORS * NNL_DB_THREADS * 16 +
// vector floats * 4 (the host computes it). counters: NNL_DB_COUNTERS zero words, left zero by every
// launch. Under programmatic launch a block streams its first rows before it waits for the kernel
// before; at GPT-2-XL's size (about 190 KB of shared memory) it can start only once that kernel's
// block has left its SM.
#include "nnl_attention.cuh"

#define NNL_DB_THREADS 512
#define NNL_DB_WARPS (NNL_DB_THREADS / 32)
#define NNL_DB_VECTORS 4           // 16-byte vectors a lane streams per piece (a warp's piece: 2 KB)
#define NNL_DB_PIECE (32 * NNL_DB_VECTORS)
#define NNL_DB_DEPTH 5             // pieces in each thread's queue (4 in flight: 128 KB a block)
#define NNL_DB_MAX_ROWS 64         // rows of one product a block owns at most
#define NNL_DB_PRODUCTS 4          // qkv, output projection, up, down
#define NNL_DB_COUNTERS 5          // qkv done, attention done, out done, up done, finished
#define NNL_DB_TIMEOUT_NS 4000000000ull

// A block's share of one product: rows first .. first+rows of a weight whose rows are vpr 16-byte
// vectors, cut into pieces of NNL_DB_PIECE vectors (a warp's load, lane l taking vectors l, l + 32,
// ...; a row's last piece may be short). The block's pieces are split evenly over its warps, in
// order: warp w streams pieces [w * P / warps, (w + 1) * P / warps), P = rows * ppr (nnl_db_share).
struct nnl_db_plan
{
    const char* w[NNL_DB_PRODUCTS];
    int vpr[NNL_DB_PRODUCTS];
    int ppr[NNL_DB_PRODUCTS];
    int first[NNL_DB_PRODUCTS];
    int rows[NNL_DB_PRODUCTS];
};

// Where a thread's stream of weight vectors stands (uniform across a warp but for the pointer):
// the product, the next piece's index within its row, the pieces left of the warp's share of the
// product, and this lane's next source vector. Kept in registers: a piece costs a few additions.
struct nnl_db_cursor
{
    int product, part, left;
    const uint4* src;
};

__device__ __forceinline__ nnl_u64 nnl_globaltimer()
{
    nnl_u64 t;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
    return t;
}

// Warp `warp`'s share of product p's pieces of this block: [begin, end).
__device__ __forceinline__ void nnl_db_share(const nnl_db_plan& plan, int p, int warp, int& begin, int& end)
{
    int pieces = plan.rows[p] * plan.ppr[p];
    begin = warp * pieces / NNL_DB_WARPS;
    end = (warp + 1) * pieces / NNL_DB_WARPS;
}

// Moves the cursor to the warp's first piece in product p or a later one, or past the last product.
__device__ __forceinline__ void nnl_db_enter(const nnl_db_plan& plan, nnl_db_cursor& c, int p)
{
    for (; p < NNL_DB_PRODUCTS; p++)
    {
        int begin, end;
        nnl_db_share(plan, p, threadIdx.x >> 5, begin, end);
        if (begin < end)
        {
            int ppr = plan.ppr[p], row = begin / ppr;
            c.product = p;
            c.part = begin - row * ppr;
            c.left = end - begin;
            c.src = (const uint4*)plan.w[p] + (size_t)(plan.first[p] + row) * plan.vpr[p] + c.part * NNL_DB_PIECE + (threadIdx.x & 31);
            return;
        }
    }
    c.product = NNL_DB_PRODUCTS;
}

// This thread's vectors of the cursor's piece into queue slot `slot` (shared address), as one cp.async
// group (vectors past the row's end are skipped; past the last piece the group is empty: every call
// commits one, so the count of groups in flight stays the queue depth). Each thread later reads only
// what it copied itself.
__device__ __forceinline__ void nnl_db_issue(const nnl_db_plan& plan, unsigned queue, int& slot, nnl_db_cursor& c)
{
    if (c.product < NNL_DB_PRODUCTS)
    {
        int p = c.product, ppr = plan.ppr[p], vpr = plan.vpr[p];
        int col = c.part * NNL_DB_PIECE + (threadIdx.x & 31);
        unsigned dst = queue + slot * (NNL_DB_VECTORS * NNL_DB_THREADS * 16);
#pragma unroll
        for (int u = 0; u < NNL_DB_VECTORS; u++)
            if (col + 32 * u < vpr)
                asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" ::"r"(dst + u * (NNL_DB_THREADS * 16)), "l"(c.src + 32 * u) : "memory");
        c.src += NNL_DB_PIECE;
        if (++c.part == ppr) { c.part = 0; c.src += vpr - ppr * NNL_DB_PIECE; }
        if (--c.left == 0) nnl_db_enter(plan, c, p + 1);
    }
    asm volatile("cp.async.commit_group;" ::: "memory");
    slot = slot + 1 == NNL_DB_DEPTH ? 0 : slot + 1;
}

// Where input element i sits in the block's vector: for 16-bit weights the first four of each 8 go
// to float4 number i / 8 and the last four to number cols + i / 8 (cols = k / 8), so a warp's reads
// of both halves are consecutive float4s (no bank conflicts).
template <typename T>
__device__ __forceinline__ int nnl_db_slot_of(int i, int k)
{
    if (nnl_vec<T>::width == 4) return i;
    int col = i >> 3, j = i & 7;
    return j < 4 ? (col << 2) + j : ((k >> 3) + col) * 4 + j - 4;
}

// The warp's pieces of product p, dotted with the block's vector: table[row][warp] = the warp's part
// of row row's sum (each warp covers a row's pieces in one stretch, so one entry per row and warp).
template <typename T>
__device__ __forceinline__ void nnl_db_product(const nnl_db_plan& plan, int p, const uint4* queue, unsigned queue_address,
                                               int& issue_slot, nnl_db_cursor& issue, int& slot, const float4* vec,
                                               float (*table)[NNL_DB_WARPS])
{
    const int W = nnl_vec<T>::width;
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    int begin, end;
    nnl_db_share(plan, p, threadIdx.x >> 5, begin, end);
    int ppr = plan.ppr[p], vpr = plan.vpr[p];
    int row = begin / ppr, part = begin - row * ppr;
    int col = part * NNL_DB_PIECE + lane;      // this lane's first vector of the piece in its row
    float sum = 0.0f;
    for (int q = begin; q < end; q++)
    {
        asm volatile("cp.async.wait_group %0;" ::"n"(NNL_DB_DEPTH - 2) : "memory");
        uint4 w[NNL_DB_VECTORS];
#pragma unroll
        for (int u = 0; u < NNL_DB_VECTORS; u++) w[u] = queue[(slot * NNL_DB_VECTORS + u) * NNL_DB_THREADS];
        slot = slot + 1 == NNL_DB_DEPTH ? 0 : slot + 1;
        // The slot just read was this thread's oldest: refill the queue.
        nnl_db_issue(plan, queue_address, issue_slot, issue);
#pragma unroll
        for (int u = 0; u < NNL_DB_VECTORS; u++)
        {
            int c = col + 32 * u;
            if (c < vpr)
            {
                float f[W];
                nnl_vec<T>::unpack(w[u], f);
                float4 a = vec[c];             // inputs 8c .. 8c+3 (4c .. 4c+3 for fp32 weights)
                sum += f[0] * a.x + f[1] * a.y + f[2] * a.z + f[3] * a.w;
                if (W == 8)
                {
                    float4 b = vec[vpr + c];   // inputs 8c+4 .. 8c+7
                    sum += f[4 % W] * b.x + f[5 % W] * b.y + f[6 % W] * b.z + f[7 % W] * b.w;
                }
            }
        }
        col += NNL_DB_PIECE;
        if (++part == ppr || q + 1 == end)
        {
            sum = nnl_warp_sum(sum);
            if (lane == 0) table[row][warp] = sum;
            sum = 0.0f;
            if (part == ppr) { part = 0; row++; col = lane; }
        }
    }
    __syncthreads();
}

// Row i's sum of product p: the warps' parts in warp order (those with pieces of the row).
__device__ __forceinline__ float nnl_db_row_sum(const nnl_db_plan& plan, int p, int i, const float (*table)[NNL_DB_WARPS])
{
    int ppr = plan.ppr[p];
    float s = 0.0f;
    for (int w = 0; w < NNL_DB_WARPS; w++)
    {
        int begin, end;
        nnl_db_share(plan, p, w, begin, end);
        if (begin < end && begin < (i + 1) * ppr && end > i * ppr) s += table[i][w];
    }
    return s;
}

// This block's outputs of a phase are written: count it (thread 0, after the block's writes).
__device__ __forceinline__ void nnl_db_arrive(nnl_u32* counter)
{
    __syncthreads();
    if (threadIdx.x == 0)
    {
        __threadfence();
        atomicAdd(counter, 1u);
    }
}

// Until every block has arrived; then their writes are visible through L2. A block that is never
// scheduled (the grid too large to be resident at once) would hang the GPU: trap instead.
__device__ __forceinline__ void nnl_db_wait(const nnl_u32* counter, nnl_u32 target)
{
    if (threadIdx.x == 0)
    {
        nnl_u64 start = nnl_globaltimer();
        for (;;)
        {
            nnl_u32 v;
            asm volatile("ld.acquire.gpu.global.u32 %0, [%1];" : "=r"(v) : "l"(counter) : "memory");
            if (v >= target) break;
            if (nnl_globaltimer() - start > NNL_DB_TIMEOUT_NS) __trap();
        }
        __threadfence();
    }
    __syncthreads();
}

// vec = LayerNorm(x) with the math of layernorm.cu (two passes, biased variance), in
// nnl_db_slot_of's order, ready for the product. Each load is an L2 or HBM round trip, so a thread
// issues all of its loads (x as float4s, the norm's weight and bias) before it uses any.
#define NNL_DB_LN_SLICES 4   // float4s of x a thread holds: rows up to 4 * 4 * NNL_DB_THREADS
template <typename T>
__device__ __forceinline__ void nnl_db_layernorm(const float* x, const void* weight_, const void* bias_, int n, float eps,
                                                 float* vec, float* red)
{
    typedef nnl_type<T> L;
    const typename L::storage* weight = (const typename L::storage*)weight_;
    const typename L::storage* bias = (const typename L::storage*)bias_;
    float4 v[NNL_DB_LN_SLICES];
    float w[NNL_DB_LN_SLICES][4], b[NNL_DB_LN_SLICES][4];
#pragma unroll
    for (int j = 0; j < NNL_DB_LN_SLICES; j++)
    {
        int i = threadIdx.x + j * NNL_DB_THREADS;
        bool in = i < n / 4;
        v[j] = in ? __ldcg((const float4*)x + i) : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
#pragma unroll
        for (int e = 0; e < 4; e++)
        {
            w[j][e] = in ? L::load(weight, 4 * i + e) : 0.0f;
            b[j][e] = in && bias ? L::load(bias, 4 * i + e) : 0.0f;
        }
    }
    float s = 0.0f;
#pragma unroll
    for (int j = 0; j < NNL_DB_LN_SLICES; j++) s += (v[j].x + v[j].y) + (v[j].z + v[j].w);
    float mean = nnl_block_sum(s, red) / n;
    float q = 0.0f;
#pragma unroll
    for (int j = 0; j < NNL_DB_LN_SLICES; j++)
        if ((int)threadIdx.x + j * NNL_DB_THREADS < n / 4)
        {
            float a = v[j].x - mean, c = v[j].y - mean, d = v[j].z - mean, e = v[j].w - mean;
            q += (a * a + c * c) + (d * d + e * e);
        }
    float rstd = rsqrtf(nnl_block_sum(q, red) / n + eps);
#pragma unroll
    for (int j = 0; j < NNL_DB_LN_SLICES; j++)
    {
        int i = threadIdx.x + j * NNL_DB_THREADS;
        if (i < n / 4)
        {
            vec[nnl_db_slot_of<T>(4 * i, n)] = (v[j].x - mean) * rstd * w[j][0] + b[j][0];
            vec[nnl_db_slot_of<T>(4 * i + 1, n)] = (v[j].y - mean) * rstd * w[j][1] + b[j][1];
            vec[nnl_db_slot_of<T>(4 * i + 2, n)] = (v[j].z - mean) * rstd * w[j][2] + b[j][2];
            vec[nnl_db_slot_of<T>(4 * i + 3, n)] = (v[j].w - mean) * rstd * w[j][3] + b[j][3];
        }
    }
    __syncthreads();
}

template <typename T>
__device__ __forceinline__ void nnl_db_load_vector(const float* src, int n, float* vec)
{
#pragma unroll 4
    for (int i = threadIdx.x; i < n / 4; i += NNL_DB_THREADS)
    {
        float4 v = __ldcg((const float4*)src + i);
        vec[nnl_db_slot_of<T>(4 * i, n)] = v.x; vec[nnl_db_slot_of<T>(4 * i + 1, n)] = v.y;
        vec[nnl_db_slot_of<T>(4 * i + 2, n)] = v.z; vec[nnl_db_slot_of<T>(4 * i + 3, n)] = v.w;
    }
    __syncthreads();
}

// One query head over cached positions [first, end) of the slot: the warps share the positions
// (nnl_attend, reading the cache through L2: this kernel wrote the newest key and value), then
// merge in shared memory in warp order.
template <typename T, int NI>
__device__ __forceinline__ void nnl_db_attend(int head, const float* q_buf, const typename nnl_type<T>::storage* kc,
                                              const typename nnl_type<T>::storage* vc, float* out, int kv_width, int group,
                                              int head_dim, int first, int end, float scale, float* sm_acc, float* sm_m,
                                              float* sm_l)
{
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    size_t kv_off = (size_t)(head / group) * head_dim;
    float q[NI], acc[NI];
#pragma unroll
    for (int i = 0; i < NI; i++)
    {
        int d = lane + 32 * i;
        q[i] = d < head_dim ? __ldcg(q_buf + (size_t)head * head_dim + d) * scale : 0.0f;
        acc[i] = 0.0f;
    }
    int n = end - first, per_warp = (n + NNL_DB_WARPS - 1) / NNL_DB_WARPS;
    int wb = first + warp * per_warp, we = min(wb + per_warp, end);
    float m = NNL_NEG_INF, l = 0.0f;
    // Four keys a step, not 32 / NI: fewer staging registers in a kernel that also holds its queue cursors.
    if (wb < we) nnl_attend<T, NI, 4, true>(q, kc + kv_off, vc + kv_off, kv_width, wb, we, head_dim, m, l, acc);
#pragma unroll
    for (int i = 0; i < NI; i++) sm_acc[warp * (32 * NI) + lane + 32 * i] = acc[i];
    if (lane == 0) { sm_m[warp] = m; sm_l[warp] = l; }
    __syncthreads();
    float mx = NNL_NEG_INF;
    for (int w = 0; w < NNL_DB_WARPS; w++) mx = fmaxf(mx, sm_m[w]);
    float sum = 0.0f;
    for (int w = 0; w < NNL_DB_WARPS; w++) if (sm_m[w] != NNL_NEG_INF) sum += sm_l[w] * expf(sm_m[w] - mx);
    float inv = 1.0f / sum;
    for (int d = threadIdx.x; d < head_dim; d += NNL_DB_THREADS)
    {
        float a = 0.0f;
        for (int w = 0; w < NNL_DB_WARPS; w++) if (sm_m[w] != NNL_NEG_INF) a += sm_acc[w * (32 * NI) + d] * expf(sm_m[w] - mx);
        out[(size_t)head * head_dim + d] = a * inv;
    }
    __syncthreads();
}

template <typename T>
__device__ __forceinline__ void nnl_decoder_block_impl(
    float* x,                                             // [hidden] the residual stream, updated in place
    const void* ln1_w, const void* ln1_b,                 // [hidden] (bias may be null)
    const void* w_qkv, const void* b_qkv,                 // [q_width + 2 kv_width, hidden] nn.Linear layout; bias or null
    const void* w_out, const void* b_out,                 // [hidden, q_width]
    const void* ln2_w, const void* ln2_b,                 // [hidden]
    const void* w_up, const void* b_up,                   // [inner, hidden]
    const void* w_down, const void* b_down,               // [hidden, inner]
    float* q_buf, float* attn_buf, float* up_buf,         // [q_width], [q_width], [inner] scratch
    void* k_cache_, void* v_cache_,                       // [slots, max_seq, kv_width], the weights' type
    const int* positions, const int* slots,               // the token's position and cache slot ([1] each; slots may be null)
    nnl_u32* counters,                                    // NNL_DB_COUNTERS zero words
    int hidden, int inner, int heads, int kv_heads, int head_dim, int max_seq, int window, float eps, float scale)
{
    typedef nnl_type<T> L;
    typedef typename L::storage S;
    extern __shared__ float4 nnl_db_shared[];
    uint4* queue = (uint4*)nnl_db_shared;                            // [NNL_DB_DEPTH][NNL_DB_VECTORS][NNL_DB_THREADS]
    float* vec = (float*)(queue + NNL_DB_DEPTH * NNL_DB_VECTORS * NNL_DB_THREADS);    // the product's input, or attention's partials
    __shared__ nnl_db_plan plan;
    __shared__ float table[NNL_DB_MAX_ROWS][NNL_DB_WARPS], red[32], sm_m[NNL_DB_WARPS], sm_l[NNL_DB_WARPS];
    __shared__ float bias[NNL_DB_PRODUCTS][NNL_DB_MAX_ROWS];   // the block's rows' biases (0 without)
    __shared__ float residual[NNL_DB_MAX_ROWS];                // x at the block's rows of the projections
    int q_width = heads * head_dim, kv_width = kv_heads * head_dim;
    if (threadIdx.x == 0)
    {
        const void* w[NNL_DB_PRODUCTS] = {w_qkv, w_out, w_up, w_down};
        int n[NNL_DB_PRODUCTS] = {q_width + 2 * kv_width, hidden, inner, hidden};
        int k[NNL_DB_PRODUCTS] = {hidden, q_width, hidden, inner};
        for (int p = 0; p < NNL_DB_PRODUCTS; p++)
        {
            int first = (int)((long long)blockIdx.x * n[p] / gridDim.x);
            int last = (int)((long long)(blockIdx.x + 1) * n[p] / gridDim.x);
            int vpr = k[p] / nnl_vec<T>::width;
            plan.w[p] = (const char*)w[p];
            plan.vpr[p] = vpr;
            plan.ppr[p] = (vpr + NNL_DB_PIECE - 1) / NNL_DB_PIECE;
            plan.first[p] = first;
            plan.rows[p] = last - first;
        }
    }
    __syncthreads();
    // Weights are nobody's output: stage the biases and stream the first rows before waiting for
    // the kernel before (every load of a thread issued before any is used).
    {
        const void* b[NNL_DB_PRODUCTS] = {b_qkv, b_out, b_up, b_down};
        float v[NNL_DB_PRODUCTS];
#pragma unroll
        for (int p = 0; p < NNL_DB_PRODUCTS; p++)
            v[p] = b[p] && (int)threadIdx.x < plan.rows[p] ? L::load((const S*)b[p], plan.first[p] + threadIdx.x) : 0.0f;
#pragma unroll
        for (int p = 0; p < NNL_DB_PRODUCTS; p++)
            if ((int)threadIdx.x < plan.rows[p]) bias[p][threadIdx.x] = v[p];
    }
    nnl_db_cursor issue;
    nnl_db_enter(plan, issue, 0);
    int slot = 0, issue_slot = 0;
    const uint4* my_queue = queue + threadIdx.x;                     // slot s, vector u at my_queue[(s * NNL_DB_VECTORS + u) * NNL_DB_THREADS]
    unsigned my_queue_address = nnl_shared_address(my_queue);
    for (int i = 0; i < NNL_DB_DEPTH - 1; i++) nnl_db_issue(plan, my_queue_address, issue_slot, issue);
    nnl_grid_wait();
    nnl_launch_dependents();

    // 1. qkv = LayerNorm1(x) · Wqkv + b; q to q_buf, k and v straight into the cache.
    for (int i = threadIdx.x; i < plan.rows[1]; i += NNL_DB_THREADS) residual[i] = __ldcg(x + plan.first[1] + i);
    nnl_db_layernorm<T>(x, ln1_w, ln1_b, hidden, eps, vec, red);
    nnl_db_product<T>(plan, 0, my_queue, my_queue_address, issue_slot, issue, slot, (const float4*)vec, table);
    int pos = positions[0];
    size_t cache_row = ((slots ? (size_t)slots[0] : 0) * max_seq + pos) * kv_width;
    for (int i = threadIdx.x; i < plan.rows[0]; i += NNL_DB_THREADS)
    {
        int r = plan.first[0] + i;
        float s = nnl_db_row_sum(plan, 0, i, table) + bias[0][i];
        if (r < q_width) q_buf[r] = s;
        else if (pos >= 0 && pos < max_seq)
        {
            if (r < q_width + kv_width) ((S*)k_cache_)[cache_row + (r - q_width)] = L::from_float(s);
            else ((S*)v_cache_)[cache_row + (r - q_width - kv_width)] = L::from_float(s);
        }
    }
    nnl_db_arrive(counters + 0);

    // 2. Attention, a head per block (the rest go on to wait; their rows keep streaming).
    nnl_db_wait(counters + 0, gridDim.x);
    {
        int end = min(pos + 1, max_seq), first = window > 0 ? max(0, pos - window + 1) : 0;
        size_t slot_base = (slots ? (size_t)slots[0] : 0) * max_seq * kv_width;
        const S* kc = (const S*)k_cache_ + slot_base;
        const S* vc = (const S*)v_cache_ + slot_base;
        int group = heads / kv_heads;
        for (int h = blockIdx.x; h < heads; h += gridDim.x)
        {
            if (head_dim <= 64) nnl_db_attend<T, 2>(h, q_buf, kc, vc, attn_buf, kv_width, group, head_dim, first, end, scale, vec, sm_m, sm_l);
            else nnl_db_attend<T, 4>(h, q_buf, kc, vc, attn_buf, kv_width, group, head_dim, first, end, scale, vec, sm_m, sm_l);
        }
    }
    nnl_db_arrive(counters + 1);

    // 3. x += attention · Wout + b.
    nnl_db_wait(counters + 1, gridDim.x);
    nnl_db_load_vector<T>(attn_buf, q_width, vec);
    nnl_db_product<T>(plan, 1, my_queue, my_queue_address, issue_slot, issue, slot, (const float4*)vec, table);
    for (int i = threadIdx.x; i < plan.rows[1]; i += NNL_DB_THREADS)
    {
        int r = plan.first[1] + i;
        residual[i] += nnl_db_row_sum(plan, 1, i, table) + bias[1][i];
        x[r] = residual[i];
    }
    nnl_db_arrive(counters + 2);

    // 4. up = gelu_new(LayerNorm2(x) · Wup + b).
    nnl_db_wait(counters + 2, gridDim.x);
    nnl_db_layernorm<T>(x, ln2_w, ln2_b, hidden, eps, vec, red);
    nnl_db_product<T>(plan, 2, my_queue, my_queue_address, issue_slot, issue, slot, (const float4*)vec, table);
    for (int i = threadIdx.x; i < plan.rows[2]; i += NNL_DB_THREADS)
    {
        int r = plan.first[2] + i;
        up_buf[r] = nnl_gelu_new_f(nnl_db_row_sum(plan, 2, i, table) + bias[2][i]);
    }
    nnl_db_arrive(counters + 3);

    // 5. x += up · Wdown + b.
    nnl_db_wait(counters + 3, gridDim.x);
    nnl_db_load_vector<T>(up_buf, inner, vec);
    nnl_db_product<T>(plan, 3, my_queue, my_queue_address, issue_slot, issue, slot, (const float4*)vec, table);
    for (int i = threadIdx.x; i < plan.rows[3]; i += NNL_DB_THREADS)
    {
        int r = plan.first[3] + i;
        x[r] = residual[i] + (nnl_db_row_sum(plan, 3, i, table) + bias[3][i]);
    }
    asm volatile("cp.async.wait_all;" ::: "memory");

    // Every block is past every wait once all have arrived here: the last one zeroes the counters
    // for the next launch (which reads them only after this grid has completed).
    __syncthreads();
    if (threadIdx.x == 0)
    {
        __threadfence();
        if (atomicAdd(counters + 4, 1u) == gridDim.x - 1)
            for (int i = 0; i < NNL_DB_COUNTERS; i++) counters[i] = 0;
    }
}

#define NNL_DB_PARAMS                                                                                          \
    (float* x, const void* ln1_w, const void* ln1_b, const void* w_qkv, const void* b_qkv, const void* w_out,  \
     const void* b_out, const void* ln2_w, const void* ln2_b, const void* w_up, const void* b_up,              \
     const void* w_down, const void* b_down, float* q_buf, float* attn_buf, float* up_buf, void* k_cache,      \
     void* v_cache, const int* positions, const int* slots, nnl_u32* counters, int hidden, int inner,          \
     int heads, int kv_heads, int head_dim, int max_seq, int window, float eps, float scale)
#define NNL_DB_ARGS                                                                                            \
    (x, ln1_w, ln1_b, w_qkv, b_qkv, w_out, b_out, ln2_w, ln2_b, w_up, b_up, w_down, b_down, q_buf, attn_buf,   \
     up_buf, k_cache, v_cache, positions, slots, counters, hidden, inner, heads, kv_heads, head_dim, max_seq,  \
     window, eps, scale)

// One block an SM (about 190 KB of shared memory for GPT-2-XL).
extern "C" __global__ void __launch_bounds__(NNL_DB_THREADS, 1) nnl_decoder_block_f16 NNL_DB_PARAMS { nnl_decoder_block_impl<nnl_f16_t> NNL_DB_ARGS; }
extern "C" __global__ void __launch_bounds__(NNL_DB_THREADS, 1) nnl_decoder_block_bf16 NNL_DB_PARAMS { nnl_decoder_block_impl<nnl_bf16_t> NNL_DB_ARGS; }
extern "C" __global__ void __launch_bounds__(NNL_DB_THREADS, 1) nnl_decoder_block_f32 NNL_DB_PARAMS { nnl_decoder_block_impl<nnl_f32_t> NNL_DB_ARGS; }
