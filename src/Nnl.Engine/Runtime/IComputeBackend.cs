using Nnl.Engine.Models;

namespace Nnl.Engine.Runtime;

/// <summary>Operations a backend implements; <see cref="IComputeBackend.Supports"/> says which (llama.cpp's supports_op).</summary>
public enum BackendOperation
{
    EmbeddingLookup,
    LayerNorm,
    RmsNorm,
    MatMul,
    NormMatMul,
    DecoderBlock,
    Rope,
    StoreKv,
    Attention,
    Softmax,
    GeluNew,
    SiluMul,
    Add,
    SliceColumns,
    GatherRows,
    ColumnView,
}

/// <summary>
/// What <see cref="IComputeBackend.MatMul"/> does with s = x·W (+ bias) before it stores it: a fused
/// epilogue saves the separate elementwise kernel (and its read and write of the activations).
/// </summary>
public enum MatMulEpilogue
{
    /// <summary>output = s.</summary>
    None,

    /// <summary>output = output + s (the residual add fused; output holds the residual stream on entry).</summary>
    Accumulate,

    /// <summary>output = gelu_new(s) (GPT-2's MLP: the activation applied after the bias).</summary>
    GeluNew,
}

/// <summary>Which normalisation <see cref="IComputeBackend.NormMatMul"/> applies to each row before its product.</summary>
public enum NormKind
{
    /// <summary><see cref="IComputeBackend.LayerNorm"/>: (x − mean) / sqrt(var + eps) · weight + bias (GPT-2).</summary>
    LayerNorm,

    /// <summary><see cref="IComputeBackend.RmsNorm"/>: x / sqrt(mean(x²) + eps) · weight (Llama family; no bias).</summary>
    RmsNorm,
}

/// <summary>A row normalisation with its weights: the first half of <see cref="IComputeBackend.NormMatMul"/>.</summary>
/// <param name="Kind">LayerNorm or RmsNorm.</param>
/// <param name="Weight">The norm's scale [columns].</param>
/// <param name="Bias">LayerNorm's shift [columns], or null; RmsNorm takes none.</param>
/// <param name="Epsilon">Added to the variance (mean square) before the square root.</param>
public readonly record struct RowNorm(NormKind Kind, BackendTensor Weight, BackendTensor? Bias, float Epsilon)
{
    /// <summary>A LayerNorm (GPT-2's ln_1, ln_2).</summary>
    public static RowNorm Layer(BackendTensor weight, BackendTensor? bias, float epsilon) => new(NormKind.LayerNorm, weight, bias, epsilon);

    /// <summary>An RMSNorm (Llama's attention and MLP norms).</summary>
    public static RowNorm Rms(BackendTensor weight, float epsilon) => new(NormKind.RmsNorm, weight, null, epsilon);

    /// <summary>Throws for a kind this struct does not know, or an RMSNorm with a bias.</summary>
    internal void Validate(string operation)
    {
        if (!Enum.IsDefined(Kind)) throw new NnlArgumentException("norm", $"{operation}: unknown norm kind {Kind}.");
        if (Kind == NormKind.RmsNorm && Bias is not null) throw new NnlArgumentException("norm", $"{operation}: an RMSNorm has no bias ({Bias.Name} given).");
    }
}

/// <summary>Which index of a batch row an embedding lookup uses.</summary>
public enum EmbeddingIndex
{
    /// <summary>The row's token id (token embedding).</summary>
    Token,

    /// <summary>The row's position (GPT-2's learned position embedding).</summary>
    Position,
}

/// <summary>
/// The table of operations an architecture's graph builder composes (llama.cpp style). The CPU
/// backend is the reference; the CUDA backend implements the same table and is tested against it.
///
/// Conventions every implementation keeps:
/// - Activations are F32, shape [rows, columns], one row per batch row (<see cref="TokenBatch"/>).
/// - Weights are F32, F16 or BF16 as bound; accumulation is F32 (or wider).
/// - Operations may be asynchronous (a CUDA stream); <see cref="Download"/> and
///   <see cref="Synchronize"/> are the only points where the host waits.
/// - An output may alias an input of the same shape where noted ("in place allowed").
/// - Tensors come only from this backend (Allocate, CreateWeight, or the backend's own weight
///   memory such as an offload scheduler's device buffers).
/// </summary>
public interface IComputeBackend : IDisposable
{
    /// <summary>"Cpu", "Cuda:0", ...</summary>
    string Name { get; }

    /// <summary>Whether <paramref name="operation"/> runs with weights of <paramref name="weightType"/>.</summary>
    bool Supports(BackendOperation operation, TensorDType weightType);

    // ---- memory ----

    /// <summary>A new tensor (contents undefined). Activations and KV caches are F32.</summary>
    BackendTensor Allocate(string name, TensorDType dtype, params long[] shape);

    /// <summary>Frees a tensor from <see cref="Allocate"/>, <see cref="CreateWeight"/>. Using it afterwards is a bug.</summary>
    void Release(BackendTensor tensor);

    /// <summary>
    /// A weight tensor holding <paramref name="data"/> (raw little-endian elements of
    /// <paramref name="info"/>.DType in <paramref name="info"/>.Shape). The backend may convert
    /// (the CPU backend widens F16/BF16 to F32 here, once). The bytes are only read during the call.
    /// </summary>
    BackendTensor CreateWeight(TensorInfo info, WeightBytes data);

    /// <summary>Copies host F32 values into an F32 tensor (whole tensor).</summary>
    void Upload(BackendTensor destination, ReadOnlySpan<float> source);

    /// <summary>Copies an F32 tensor to the host (whole tensor); waits for pending work.</summary>
    void Download(BackendTensor source, Span<float> destination);

    /// <summary>Waits until every queued operation has finished.</summary>
    void Synchronize();

    /// <summary>Makes <paramref name="batch"/>'s ids, positions and slots available to the operations of one forward pass.</summary>
    BackendBatch PrepareBatch(TokenBatch batch);

    // ---- operations ----

    /// <summary>output[r] = table[index of row r] (table [n, columns], output [rows, columns]).</summary>
    void EmbeddingLookup(BackendTensor table, BackendBatch batch, EmbeddingIndex index, BackendTensor output);

    /// <summary>output = (x - mean) / sqrt(var + eps) · weight + bias, per row (biased variance). In place allowed.</summary>
    void LayerNorm(BackendTensor x, BackendTensor weight, BackendTensor? bias, float epsilon, BackendTensor output);

    /// <summary>output = x / sqrt(mean(x²) + eps) · weight, per row. In place allowed.</summary>
    void RmsNorm(BackendTensor x, BackendTensor weight, float epsilon, BackendTensor output);

    /// <summary>
    /// output[rows, out] = x[rows, in] · W (+ bias[out]), then <paramref name="epilogue"/>: stored as is,
    /// added into output (<see cref="MatMulEpilogue.Accumulate"/>: output must already hold the
    /// [rows, out] addend, e.g. the residual stream, and ends as addend + (x·W + bias), the same sum
    /// in the same order as MatMul then <see cref="Add"/>), or through gelu_new
    /// (<see cref="MatMulEpilogue.GeluNew"/>: gelu_new(x·W + bias), as MatMul then <see cref="GeluNew"/>).
    /// W is [out, in] for <see cref="WeightLayout.Linear"/> and [in, out] for <see cref="WeightLayout.Conv1D"/>.
    /// Output never aliases x. Every path of a backend honours the epilogue (fused where it is cheap,
    /// a separate kernel inside the backend otherwise).
    /// </summary>
    void MatMul(BackendTensor x, BackendTensor weight, WeightLayout layout, BackendTensor? bias, BackendTensor output,
        MatMulEpilogue epilogue = MatMulEpilogue.None);

    /// <summary>
    /// A norm and the one product that consumes it (GPT-2's ln_1 → c_attn, ln_2 → c_fc), meaning exactly
    /// <see cref="LayerNorm"/> or <see cref="RmsNorm"/> of x (as <paramref name="norm"/> says) into
    /// <paramref name="normOutput"/>, then <see cref="MatMul"/>(normOutput, weight, layout, bias, output, epilogue).
    /// normOutput [rows, columns of x] is the scratch the composed path writes; a backend may instead
    /// normalise inside the product's kernel and never write it, so its contents afterwards are
    /// unspecified (normOutput may be x, the norm in place; then x is unspecified afterwards too).
    /// Every rule of the two operations holds (shapes, output never aliasing normOutput, epilogues).
    /// Decode is where it pays: the CUDA backend folds the norm of one token into its register GEMV when
    /// the weights are constant (one launch instead of two; CudaBackend.NormFold.cs), can fuse up to 4
    /// rows into its row GEMVs, and composes the two otherwise.
    /// </summary>
    void NormMatMul(BackendTensor x, RowNorm norm, BackendTensor normOutput, BackendTensor weight, WeightLayout layout, BackendTensor? bias,
        BackendTensor output, MatMulEpilogue epilogue = MatMulEpilogue.None);

    /// <summary>
    /// A whole GPT-2-style pre-norm decoder block on the residual stream x [rows, hidden], in place:
    /// exactly <see cref="DecoderBlockComposition.Compose"/> (NormMatMul into the fused qkv product,
    /// StoreKv, Attention, the output projection added into x, NormMatMul into the up product with
    /// gelu_new, the down projection added into x). <paramref name="scratch"/> holds the composed
    /// path's temporaries; a backend that runs the block as one kernel may leave them unwritten, so
    /// their contents afterwards are unspecified. Every rule of the composed operations holds.
    /// The CUDA backend can run a one-token block as one persistent kernel that streams all four
    /// products' weights without pause (kernels/decoder_block.cu, CudaBackend.FuseDecoderBlock; off
    /// by default until it beats the composed kernels).
    /// </summary>
    void DecoderBlock(BackendTensor x, DecoderBlockWeights weights, DecoderBlockScratch scratch,
        BackendTensor kCache, BackendTensor vCache, BackendBatch batch, AttentionShape shape);

    /// <summary>
    /// A view of columns columnOffset .. columnOffset + columns of every row of
    /// <paramref name="source"/> (an F32 [rows, width] activation, or a view of one): no copy, shape
    /// [rows, columns], <see cref="BackendTensor.RowStride"/> = the source's, <see cref="BackendTensor.ViewOf"/>
    /// = the source. Writes through the view land in the source. Releasing the view frees nothing; it
    /// must not be used after its source is released. Only <see cref="Rope"/> (x), <see cref="StoreKv"/>
    /// (k, v), <see cref="Attention"/> (q) and <see cref="StoreKvAndAttend"/> (q, k, v) take views (GPT-2 reads q, k and v straight out of its
    /// fused qkv product); every other operation rejects one with an <see cref="NnlArgumentException"/>.
    /// </summary>
    BackendTensor ColumnView(BackendTensor source, long columnOffset, long columns);

    /// <summary>
    /// Rotates x [rows, heads·HeadDim] in place by each row's position (rotate-half layout, see
    /// <see cref="RotaryEmbedding"/>): for pair (i, i + d/2), (a, b) → (a·cos − b·sin, b·cos + a·sin).
    /// x may be a column view.
    /// </summary>
    void Rope(BackendTensor x, BackendBatch batch, int headCount, RotaryEmbedding rope);

    /// <summary>
    /// Writes k and v [rows, KvWidth] into the layer's caches [slots, capacity, KvWidth] at
    /// (slot, position) of each row. k and v may be column views.
    /// </summary>
    void StoreKv(BackendTensor k, BackendTensor v, BackendTensor kCache, BackendTensor vCache, BackendBatch batch);

    /// <summary>
    /// Causal attention over the KV cache: for row r (slot s, position p) and head h,
    /// output[r, h] = Σ_{t≤p} softmax_t(Scale · q[r,h] · kCache[s,t,g]) · vCache[s,t,g] with
    /// g = h / GroupSize, t from <see cref="AttentionShape.FirstVisiblePosition"/>(p) (0 unless a sliding
    /// window is set). Covers prefill (many rows per slot) and decode (one row per slot).
    /// Call <see cref="StoreKv"/> for the batch first. q and output are [rows, QueryWidth]; q may be a column view.
    /// </summary>
    void Attention(BackendTensor q, BackendTensor kCache, BackendTensor vCache, BackendBatch batch, AttentionShape shape, BackendTensor output);

    /// <summary>
    /// <see cref="StoreKv"/>(k, v, kCache, vCache, batch) then <see cref="Attention"/>(q, kCache, vCache,
    /// batch, shape, output): what a decoder layer does with its new keys and values. A backend may do
    /// both in one pass; the CUDA backend stores them inside its decode attention kernel when each row
    /// is alone in its slot (one launch, a stage of every decode layer, fewer). q, k and v may be column
    /// views of one qkv product.
    /// </summary>
    void StoreKvAndAttend(BackendTensor q, BackendTensor k, BackendTensor v, BackendTensor kCache, BackendTensor vCache,
        BackendBatch batch, AttentionShape shape, BackendTensor output)
    {
        StoreKv(k, v, kCache, vCache, batch);
        Attention(q, kCache, vCache, batch, shape, output);
    }

    /// <summary>Row-wise softmax. In place allowed.</summary>
    void Softmax(BackendTensor x, BackendTensor output);

    /// <summary>GPT-2's gelu_new (tanh approximation). In place allowed.</summary>
    void GeluNew(BackendTensor x, BackendTensor output);

    /// <summary>output = silu(gate) · up (SwiGLU). In place allowed (output = gate or up).</summary>
    void SiluMul(BackendTensor gate, BackendTensor up, BackendTensor output);

    /// <summary>output = a + b (same shape). In place allowed.</summary>
    void Add(BackendTensor a, BackendTensor b, BackendTensor output);

    /// <summary>output[r, :] = source[r, columnOffset .. columnOffset + output.Columns] (splits GPT-2's fused QKV).</summary>
    void SliceColumns(BackendTensor source, long columnOffset, BackendTensor output);

    /// <summary>output[i] = source[batch.OutputRows[i]] (output [OutputRows.Length, columns]).</summary>
    void GatherRows(BackendTensor source, BackendBatch batch, BackendTensor output);
}
