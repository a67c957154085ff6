using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Nnl.Engine.Cuda;
using Nnl.Engine.Models;

namespace Nnl.Engine.Runtime.Cuda;

/// <summary>Which kernel computes a matrix product (chosen per call; tests force each).</summary>
public enum CudaMatMulPath
{
    /// <summary>Nnl's GEMV: weights read once for up to 4 rows; decode.</summary>
    Gemv,

    /// <summary>cuBLAS GemmEx in the weights' type (activations as hi + lo halves), fp32 accumulation; prefill.</summary>
    Cublas,

    /// <summary>Nnl's tiled GEMM; prefill without cuBLAS.</summary>
    Gemm,
}

/// <summary>Which GEMV entry reads nn.Linear weights (kernels/gemv.cu; chosen by shape, tests force each).</summary>
public enum CudaGemvVariant
{
    /// <summary>One row per warp, four 16-byte loads in flight per lane (nnl_gemv_*).</summary>
    OneRow,

    /// <summary>One row per warp, eight loads in flight (nnl_gemv_u8_*).</summary>
    OneRowDeep,

    /// <summary>Two rows per warp, four loads each: each x load serves two rows (nnl_gemv_r2_*).</summary>
    TwoRows,

    /// <summary>Four rows per warp, two loads each (nnl_gemv_r4_*).</summary>
    FourRows,

    /// <summary>Four rows per warp, four loads each (nnl_gemv_r4u4_*).</summary>
    FourRowsDeep,

    /// <summary>Split-k: a block per two rows, its threads share each row's k, four loads each in flight (nnl_gemv_b2_*).</summary>
    BlockTwoRows,

    /// <summary>Split-k: a block per four rows, one load each per pass (nnl_gemv_b4_*); few long rows.</summary>
    BlockFourRows,

    /// <summary>
    /// One token: a warp per slice of the columns holds that slice of x in registers for every row it
    /// takes (nnl_gemv_xreg_*, kernels/gemv_xreg.cu); more tokens, odd k, more than 8 slices (k above
    /// 8192 for 16-bit weights, 4096 for fp32) or unaligned operands take OneRow.
    /// </summary>
    InputInRegisters,
}

/// <summary>Which attention kernel runs (chosen per call; tests force each).</summary>
public enum CudaAttentionPath
{
    /// <summary>Flash-decoding: the context split over blocks, then merged; few rows.</summary>
    Split,

    /// <summary>One warp per (row, head) over its whole context; many rows.</summary>
    PerRow,
}

/// <summary>
/// The operation table on an NVIDIA GPU, with Nnl's kernels (kernels/*.cu, see kernels/README.md)
/// and cuBLAS for prefill products where it is installed. Every operation is queued on one stream
/// (<see cref="Stream"/>) and returns at once; <see cref="Download"/> and <see cref="Synchronize"/>
/// wait. Not thread-safe: one forward pass at a time.
/// </summary>
public sealed partial class CudaBackend : IComputeBackend
{
    /// <summary>Rows up to which a product runs as GEMV (the weights are read once per 4 rows).</summary>
    public const int GemvMaxRows = 8;

    /// <summary>Rows up to which <see cref="NormMatMul"/> normalises inside its GEMV (the kernel's one pass of 4 tokens).</summary>
    public const int NormGemvMaxRows = 4;

    /// <summary>
    /// Most shared memory the fused norm's rows take (rows · k · 4 bytes; GPT-2-XL's k = 1600: 6.4 KB a
    /// row): with the GEMV's own 2.5 KB it stays within the 48 KB a launch gets without opting in.
    /// </summary>
    public const int NormGemvMaxSharedBytes = 44 * 1024;

    /// <summary>Rows up to which attention splits each row's context over blocks.</summary>
    public const int SplitAttentionMaxRows = 8;

    /// <summary>Largest head size the attention kernels take.</summary>
    public const int MaxHeadDim = 256;

    private const uint Threads = 256;

    private readonly bool _ownsStream;
    private readonly bool _ownsAllocator;
    private readonly Cublas? _cublas;
    private readonly string? _cublasFailure;
    private readonly Dictionary<float[], DeviceAllocation> _invFreq = new(ReferenceEqualityComparer.Instance);
    private readonly int _sms;
    private readonly KernelHandle _embedding, _layerNorm, _rmsNorm, _gemvConv1D, _gemm, _gemmConv1D, _split, _rope, _kvAppend,
        _attentionDecode, _attentionPrefill, _softmax, _gelu, _swiglu, _add, _sliceColumns, _gatherRows, _argmax, _addBias;
    private readonly KernelHandle[] _gemv;
    private readonly KernelHandle?[] _normGemv;
    private DeviceAllocation? _scratch;
    private DeviceAllocation? _splitCounters;
    private bool _disposed;

    /// <param name="context">The device.</param>
    /// <param name="stream">The compute stream (the offload scheduler's); a new one when null.</param>
    /// <param name="allocator">Device memory for tensors and scratch; a <see cref="CachingDeviceAllocator"/> when null.</param>
    /// <param name="useCublas">Use cuBLAS for prefill products where it is installed.</param>
    public CudaBackend(CudaContext context, CudaStream? stream = null, IDeviceAllocator? allocator = null, bool useCublas = true)
    {
        Context = context;
        _ownsStream = stream is null;
        _stream = stream ?? new CudaStream(context);
        _ownsAllocator = allocator is null;
        Allocator = allocator ?? new CachingDeviceAllocator(context);
        _embedding = new(context, "embedding", "nnl_embedding");
        _layerNorm = new(context, "layernorm", "nnl_layernorm");
        _rmsNorm = new(context, "rmsnorm", "nnl_rmsnorm");
        _gemv = new KernelHandle[]
        {
            new(context, "gemv", "nnl_gemv"), new(context, "gemv", "nnl_gemv_u8"),
            new(context, "gemv", "nnl_gemv_r2"), new(context, "gemv", "nnl_gemv_r4"), new(context, "gemv", "nnl_gemv_r4u4"),
            new(context, "gemv", "nnl_gemv_b2"), new(context, "gemv", "nnl_gemv_b4"),
        };
        // The variants ChooseGemv picks for k below 5120, with the norm fused in front (NormMatMul), by CudaGemvVariant.
        _normGemv = new KernelHandle?[Enum.GetValues<CudaGemvVariant>().Length];
        _normGemv[(int)CudaGemvVariant.OneRow] = new(context, "gemv_norm", "nnl_norm_gemv");
        _normGemv[(int)CudaGemvVariant.FourRows] = new(context, "gemv_norm", "nnl_norm_gemv_r4");
        _normGemv[(int)CudaGemvVariant.BlockFourRows] = new(context, "gemv_norm", "nnl_norm_gemv_b4");
        _gemvConv1D = new(context, "gemv_conv1d", "nnl_gemv_conv1d");
        _gemm = new(context, "gemm", "nnl_gemm");
        _gemmConv1D = new(context, "gemm", "nnl_gemm_conv1d");
        _split = new(context, "convert", "nnl_split_f32");
        _rope = new(context, "rope", "nnl_rope");
        _kvAppend = new(context, "kv_cache", "nnl_kv_append");
        _attentionDecode = new(context, "attention_decode", "nnl_attention_decode");
        _attentionPrefill = new(context, "attention_prefill", "nnl_attention_prefill");
        _softmax = new(context, "softmax", "nnl_softmax");
        _gelu = new(context, "gelu", "nnl_gelu_new");
        _swiglu = new(context, "swiglu", "nnl_swiglu");
        _add = new(context, "add", "nnl_add");
        _sliceColumns = new(context, "slice_columns", "nnl_slice_columns");
        _gatherRows = new(context, "gather_rows", "nnl_gather_rows");
        _argmax = new(context, "argmax", "nnl_argmax");
        _addBias = new(context, "bias", "nnl_add_bias");
        _sms = CudaDriver.Attribute(CudaDriver.GetDevice(context.Ordinal), CudaDeviceAttribute.MultiprocessorCount);
        if (useCublas && Cublas.IsAvailable)
        {
            try { _cublas = new Cublas(context); }
            catch (NnlException e) { _cublasFailure = $"cuBLAS is installed but could not start ({e.Message}); Nnl's own GEMM kernels are used instead."; }
        }
    }

    public CudaContext Context { get; }
    /// <summary>
    /// The compute stream. Taking it during a graph step first queues the launches recorded so far
    /// (a fallback, see <see cref="BeginGraphStep"/>): whatever is queued on it must follow them.
    /// </summary>
    public CudaStream Stream => _graphStep is { IsRecording: true } ? FallBackForStreamWork() : _stream;
    public IDeviceAllocator Allocator { get; }
    public string Name => $"Cuda:{Context.Ordinal}";

    /// <summary>True when prefill products go through cuBLAS.</summary>
    public bool UsesCublas => _cublas is not null;

    /// <summary>Why cuBLAS is not used (for a warning), or null.</summary>
    public string? CublasUnavailableReason => _cublas is null ? _cublasFailure ?? Cublas.UnavailableReason ?? "cuBLAS was turned off." : null;

    /// <summary>Forces one matrix-product path for every call (tests); null = choose by rows.</summary>
    public CudaMatMulPath? ForcedMatMulPath { get; set; }

    /// <summary>
    /// Forces one GEMV variant for nn.Linear products (tests, benchmarks); null = choose by shape.
    /// The NNL_GEMV_VARIANT environment variable (a variant's name) sets it for every backend, to
    /// compare variants in whole decode steps.
    /// </summary>
    public CudaGemvVariant? ForcedGemvVariant { get; set; } =
        Enum.TryParse<CudaGemvVariant>(Environment.GetEnvironmentVariable("NNL_GEMV_VARIANT"), ignoreCase: true, out var forced) ? forced : null;

    /// <summary>
    /// Whether <see cref="NormMatMul"/> normalises inside the GEMV where it can; false (the default)
    /// composes the norm and the product as two launches. Measured on the H200 (2026-11-21, `nnl
    /// bench` GPT-2-XL resident, same run): fused 2.51 / 2.56 ms a token, fused without the L2
    /// prefetch 2.38 / 2.44, composed 2.18 / 2.18: every block of the product normalises the row
    /// before it streams a weight, which costs more than one LayerNorm launch that programmatic
    /// launch already overlaps. The NNL_NORM_FUSION environment variable (any value) makes true the
    /// default; tests force both.
    /// </summary>
    public bool FuseNormIntoGemv { get; set; } = Environment.GetEnvironmentVariable("NNL_NORM_FUSION") is not null;

    /// <summary>Blocks per SM the Conv1D GEMV aims for when it splits k (benchmarks vary it).</summary>
    /// <remarks>Two beat one, four and eight on GPT-2-XL's matrices (H200, docs/performance.md).</remarks>
    public int Conv1DBlocksPerSm { get; set; } = 2;

    /// <summary>Kernels queued so far (benchmarks count the launches of a decode step).</summary>
    public long Launches { get; private set; }

    /// <summary>Forces one attention path for every call (tests); null = choose by rows.</summary>
    public CudaAttentionPath? ForcedAttentionPath { get; set; }

    /// <summary>Forces the positions per split of split attention (tests, benchmarks); null = chosen by context and heads (see Attention).</summary>
    public int? ForcedSplitLength { get; set; }

    public bool Supports(BackendOperation operation, TensorDType weightType) =>
        weightType is TensorDType.F32 or TensorDType.F16 or TensorDType.BF16;

    // ------------------------------------------------------------------ memory

    public BackendTensor Allocate(string name, TensorDType dtype, params long[] shape)
    {
        long elements = 1;
        foreach (var d in shape)
        {
            if (d <= 0) throw new NnlArgumentException(nameof(shape), $"{name}: every dimension must be positive, not [{string.Join(", ", shape)}]");
            elements *= d;
        }
        var memory = Allocator.Allocate(elements * dtype.ElementBytes(), name);
        return new CudaTensor(this, name, dtype, (long[])shape.Clone(), memory.Pointer, memory);
    }

    public void Release(BackendTensor tensor)
    {
        var t = Own(tensor, "Release");
        ForgetConstant(t);
        if (t.Owner is not null) Allocator.Free(t.Owner);
        t.Invalidate();
    }

    public unsafe BackendTensor CreateWeight(TensorInfo info, WeightBytes data)
    {
        long expected = info.ElementCount * info.DType.ElementBytes();
        if (data.Length != expected)
            throw new NnlArgumentException("data", $"{info.Name}: {data.Length} bytes given for {info.DType} {info.ShapeText}, which needs {expected}");
        var t = (CudaTensor)Allocate(info.Name, info.DType, info.Shape);
        CudaCopy.HostToDevice(t.Pointer, (IntPtr)data.Pointer, data.Length, Stream);
        Stream.Synchronize(); // the bytes are only guaranteed during the call (they may be pinned, copied later otherwise)
        _constants.Add(t);
        return t;
    }

    /// <summary>
    /// A weight in device memory someone else owns (the offload scheduler's buffers): no copy;
    /// <see cref="Release"/> forgets it without freeing.
    /// </summary>
    /// <param name="transposed">The memory holds the 2-D <paramref name="info"/> transposed (a Conv1D weight stored as nn.Linear's [out, in]).</param>
    public CudaTensor WrapDeviceMemory(TensorInfo info, ulong pointer, bool transposed = false)
    {
        if (pointer == 0) throw new NnlArgumentException(nameof(pointer), $"{info.Name}: null device pointer");
        if (transposed && info.Shape.Length != 2) throw new NnlArgumentException(nameof(transposed), $"{info.Name}: only a matrix can be stored transposed, not {info.ShapeText}");
        return new CudaTensor(this, info.Name, info.DType, (long[])info.Shape.Clone(), pointer, null, transposed);
    }

    public unsafe void Upload(BackendTensor destination, ReadOnlySpan<float> source)
    {
        // The copy is queued; a pageable source (managed memory) is staged by the driver before the
        // call returns, so the caller may reuse it at once.
        var t = F32(destination, "Upload", "destination");
        ForgetConstant(t);
        if (source.Length != t.ElementCount)
            throw new NnlArgumentException(nameof(source), $"Upload to {t}: {source.Length} values for {t.ElementCount} elements");
        fixed (float* s = source) CudaCopy.HostToDevice(t.Pointer, (IntPtr)s, t.ByteCount, Stream);
    }

    public unsafe void Download(BackendTensor source, Span<float> destination)
    {
        var t = F32(source, "Download", "source");
        if (destination.Length != t.ElementCount)
            throw new NnlArgumentException(nameof(destination), $"Download of {t}: room for {destination.Length} values, {t.ElementCount} needed");
        fixed (float* d = destination) CudaCopy.DeviceToHost((IntPtr)d, t.Pointer, t.ByteCount, Stream);
        Stream.Synchronize();
    }

    /// <summary>Raw device-to-host copy of any tensor's bytes (tests of 16-bit tensors, the KV cache).</summary>
    public unsafe void DownloadBytes(BackendTensor source, Span<byte> destination)
    {
        var t = Own(source, "DownloadBytes");
        if (t.ViewOf is not null) throw Bad("DownloadBytes", "source", $"{t} is a column view; download its source");
        if (destination.Length != t.ByteCount)
            throw new NnlArgumentException(nameof(destination), $"Download of {t}: room for {destination.Length} bytes, {t.ByteCount} needed");
        fixed (byte* d = destination) CudaCopy.DeviceToHost((IntPtr)d, t.Pointer, t.ByteCount, Stream);
        Stream.Synchronize();
    }

    public void Synchronize() => Stream.Synchronize();

    public BackendBatch PrepareBatch(TokenBatch batch) => PrepareBatch(batch, staging: null, deviceTokenIds: null);

    /// <summary>
    /// Scratch memory for one operation (split-K partial sums, attention partials, converted
    /// activations). Reused by the next operation: stream order keeps uses apart.
    /// </summary>
    private ulong Scratch(long bytes)
    {
        if (_scratch is null || _scratch.Bytes < bytes)
        {
            if (_scratch is not null) Allocator.Free(_scratch);
            _scratch = null;
            _scratch = Allocator.Allocate(Math.Max(bytes, 1 << 20), "scratch");
        }
        return _scratch.Pointer;
    }

    /// <summary>
    /// Zeroed words for the kernels whose last finishing block merges the others' partial results
    /// (split-K Conv1D GEMV: one per column block; split attention: one per row and head). Each
    /// launch leaves them zero again, and launches on the one stream never overlap, so they share.
    /// </summary>
    private ulong SplitCounters(int count)
    {
        long bytes = (long)count * sizeof(uint);
        if (_splitCounters is null || _splitCounters.Bytes < bytes)
        {
            if (_splitCounters is not null) Allocator.Free(_splitCounters);
            _splitCounters = null;
            _splitCounters = Allocator.Allocate(Math.Max(bytes, 4096), "gemv.split_counters");
            CudaCopy.Fill(_splitCounters.Pointer, 0, _splitCounters.Bytes, Stream);
        }
        return _splitCounters.Pointer;
    }

    // ------------------------------------------------------------------ operations

    public void EmbeddingLookup(BackendTensor table, BackendBatch batch, EmbeddingIndex index, BackendTensor output)
    {
        var w = Weight(table, "EmbeddingLookup", "table");
        var b = Batch(batch);
        var y = F32(output, "EmbeddingLookup", "output");
        if (w.Shape.Length != 2) throw Bad("EmbeddingLookup", "table", $"{w} is not two-dimensional");
        ExpectShape("EmbeddingLookup", "output", y, b.RowCount, w.Columns);
        ulong indices = index == EmbeddingIndex.Token ? b.TokenIds : b.Positions;
        long n = y.ElementCount;
        Launch(_embedding.For(w.DType), Blocks(n), Threads,
            indices, w.Pointer, 0UL, 0UL, y.Pointer, b.RowCount, (int)w.Columns, (int)w.Rows, 0);
    }

    public void LayerNorm(BackendTensor x, BackendTensor weight, BackendTensor? bias, float epsilon, BackendTensor output)
    {
        var xt = F32(x, "LayerNorm", "x");
        var w = Weight(weight, "LayerNorm", "weight");
        var y = F32(output, "LayerNorm", "output");
        ExpectShape("LayerNorm", "output", y, xt.Rows, xt.Columns);
        ExpectElements("LayerNorm", "weight", w, xt.Columns);
        var b = bias is null ? null : Weight(bias, "LayerNorm", "bias");
        if (b is not null) ExpectElements("LayerNorm", "bias", b, xt.Columns);
        bool fuse = b is null || b.DType == w.DType;
        Launch(_layerNorm.For(w.DType), RowBlocks(xt.Rows), NormThreads(xt.Columns),
            xt.Pointer, w.Pointer, fuse && b is not null ? b.Pointer : 0UL, y.Pointer, (int)xt.Rows, (int)xt.Columns, epsilon);
        if (!fuse) AddBias(y, b!);
    }

    public void RmsNorm(BackendTensor x, BackendTensor weight, float epsilon, BackendTensor output)
    {
        var xt = F32(x, "RmsNorm", "x");
        var w = Weight(weight, "RmsNorm", "weight");
        var y = F32(output, "RmsNorm", "output");
        ExpectShape("RmsNorm", "output", y, xt.Rows, xt.Columns);
        ExpectElements("RmsNorm", "weight", w, xt.Columns);
        Launch(_rmsNorm.For(w.DType), RowBlocks(xt.Rows), NormThreads(xt.Columns),
            xt.Pointer, w.Pointer, y.Pointer, (int)xt.Rows, (int)xt.Columns, epsilon);
    }

    /// <summary>A matrix product's checked operands; <see cref="Layout"/> is the layout the weight's memory holds.</summary>
    private readonly record struct ProductOperands(CudaTensor X, CudaTensor W, CudaTensor Y, CudaTensor? B, int Rows, int K, int N, WeightLayout Layout);

    /// <summary>MatMul's checks (shapes in the layout asked for, aliasing, bias, epilogue), in <paramref name="operation"/>'s name.</summary>
    private ProductOperands Product(string operation, BackendTensor x, BackendTensor weight, WeightLayout layout, BackendTensor? bias, BackendTensor output,
        MatMulEpilogue epilogue, string xParameter = "x")
    {
        var xt = F32(x, operation, xParameter);
        var w = Weight(weight, operation, "weight");
        var y = F32(output, operation, "output");
        if (ReferenceEquals(xt, y)) throw Bad(operation, "output", $"may not alias {xParameter}");
        int rows = checked((int)xt.Rows), k = checked((int)xt.Columns), n = checked((int)y.Columns);
        if (w.Shape.Length != 2) throw Bad(operation, "weight", $"{w} is not two-dimensional");
        var (wOut, wIn) = layout == WeightLayout.Linear ? (w.Rows, w.Columns) : (w.Columns, w.Rows);
        if (wOut != n || wIn != k)
            throw Bad(operation, "weight", $"{w} as {layout} maps {wIn} inputs to {wOut} outputs; {xParameter} is {xt} and output {y}");
        // Shapes are checked in the layout asked for; the kernels read the memory as it is stored.
        if (layout == WeightLayout.Conv1D && w.StoredTransposed) layout = WeightLayout.Linear;
        ExpectShape(operation, "output", y, rows, n);
        var b = bias is null ? null : Weight(bias, operation, "bias");
        if (b is not null) ExpectElements(operation, "bias", b, n);
        if (!Enum.IsDefined(epilogue)) throw Bad(operation, "epilogue", $"unknown epilogue {epilogue}");
        return new ProductOperands(xt, w, y, b, rows, k, n, layout);
    }

    public void MatMul(BackendTensor x, BackendTensor weight, WeightLayout layout, BackendTensor? bias, BackendTensor output,
        MatMulEpilogue epilogue = MatMulEpilogue.None)
    {
        var (xt, w, y, b, rows, k, n, storedLayout) = Product("MatMul", x, weight, layout, bias, output, epilogue);
        layout = storedLayout;

        var path = ForcedMatMulPath ?? (rows <= GemvMaxRows ? CudaMatMulPath.Gemv : _cublas is not null ? CudaMatMulPath.Cublas : CudaMatMulPath.Gemm);
        if (path == CudaMatMulPath.Cublas && _cublas is null) path = CudaMatMulPath.Gemm;
        bool fuse = path != CudaMatMulPath.Cublas && (b is null || b.DType == w.DType);
        ulong biasPointer = fuse && b is not null ? b.Pointer : 0UL;
        // Our kernels apply the epilogue after their bias (kernels/nnl_common.cuh, nnl_store_epilogue);
        // gelu_new must see the bias, so where the bias is added separately, or cuBLAS computes the
        // product (it accumulates through beta but has no gelu), gelu runs as its own kernel after.
        bool biasLater = !fuse && b is not null;
        bool geluLater = epilogue == MatMulEpilogue.GeluNew && (biasLater || path == CudaMatMulPath.Cublas);
        int kernelEpilogue = (int)(geluLater ? MatMulEpilogue.None : epilogue);
        float beta = epilogue == MatMulEpilogue.Accumulate ? 1f : 0f;
        switch (path)
        {
            case CudaMatMulPath.Gemv when layout == WeightLayout.Linear:
            {
                var variant = ForcedGemvVariant ?? (rows == 1 && PreferRegisterGemv ? CudaGemvVariant.InputInRegisters : ChooseGemv(n, k));
                if (variant == CudaGemvVariant.InputInRegisters)
                {
                    if (TryLaunchRegisterGemv(w, xt, biasPointer, y, rows, n, k, kernelEpilogue)) break;
                    variant = ForcedGemvVariant is null ? ChooseGemv(n, k) : CudaGemvVariant.OneRow;
                }
                int rowsPerBlock = GemvRowsPerBlock(variant);
                Launch(_gemv[(int)variant].For(w.DType), (uint)Math.Min((n + rowsPerBlock - 1) / rowsPerBlock, 1 << 20), GemvThreads(variant, k, w.DType),
                    w.Pointer, xt.Pointer, biasPointer, y.Pointer, n, k, rows, kernelEpilogue);
                break;
            }
            case CudaMatMulPath.Gemv:
            {
                // Split k so that about Conv1DBlocksPerSm blocks per SM stream the weights (GPT-2 has few columns).
                int colBlocks = (n + 255) / 256;
                int splits = Math.Clamp((Conv1DBlocksPerSm * _sms + colBlocks - 1) / colBlocks, 1, Math.Max(1, k / 64));
                int rowsPerSplit = (k + splits - 1) / splits;
                splits = (k + rowsPerSplit - 1) / rowsPerSplit;
                ulong partial = Scratch((long)splits * rows * n * sizeof(float));
                Launch(_gemvConv1D.For(w.DType), ((uint)colBlocks, (uint)splits, 1), (Threads, 1, 1),
                    w.Pointer, xt.Pointer, biasPointer, y.Pointer, partial, SplitCounters(colBlocks), n, k, rows, rowsPerSplit, kernelEpilogue);
                break;
            }
            case CudaMatMulPath.Gemm:
                Launch((layout == WeightLayout.Linear ? _gemm : _gemmConv1D).For(w.DType),
                    ((uint)((n + 63) / 64), (uint)Math.Min((rows + 63) / 64, 65535), 1), (Threads, 1, 1),
                    xt.Pointer, w.Pointer, biasPointer, y.Pointer, rows, n, k, kernelEpilogue);
                break;
            case CudaMatMulPath.Cublas:
            {
                var type = CublasType(w.DType);
                if (w.DType == TensorDType.F32)
                {
                    _cublas!.MatMul(Stream, xt.Pointer, type, w.Pointer, type, layout == WeightLayout.Linear, y.Pointer, Cublas.DataType.F32, rows, n, k, beta);
                    break;
                }
                // cuBLAS takes A and B of one type. Rounding the activations to fp16/bf16 would cost
                // bf16 models most of their precision, so they go in as hi + lo halves, two products.
                long count = (long)rows * k;
                ulong hi = Scratch(count * 4), lo = hi + (ulong)(count * 2);
                Launch(_split.For(w.DType), Blocks(count), Threads,
                    xt.Pointer, hi, lo, (ulong)count);
                _cublas!.MatMul(Stream, hi, type, w.Pointer, type, layout == WeightLayout.Linear, y.Pointer, Cublas.DataType.F32, rows, n, k, beta);
                _cublas.MatMul(Stream, lo, type, w.Pointer, type, layout == WeightLayout.Linear, y.Pointer, Cublas.DataType.F32, rows, n, k, beta: 1f);
                break;
            }
        }
        if (biasLater) AddBias(y, b!);
        if (geluLater) Launch(_gelu.Plain, Blocks(y.ElementCount), Threads, y.Pointer, y.Pointer, (ulong)y.ElementCount);
    }

    /// <summary>
    /// One launch (nnl_norm_gemv_*, kernels/gemv_norm.cu) where the product would be a GEMV over memory
    /// in nn.Linear's layout (Linear, or Conv1D stored transposed: resident GPT-2) in a variant that has
    /// a fused entry (OneRow, FourRows, BlockFourRows: those <see cref="ChooseGemv"/> picks for k below 5120) with at most
    /// <see cref="NormGemvMaxRows"/> rows that fit <see cref="NormGemvMaxSharedBytes"/>, the norm's
    /// weights and the bias of the weight's type, and an output apart from x (every block reads all of
    /// x while others write). Otherwise <see cref="LayerNorm"/> or <see cref="RmsNorm"/> into normOutput,
    /// then <see cref="MatMul"/>. The fused launch leaves normOutput untouched.
    /// </summary>
    public void NormMatMul(BackendTensor x, RowNorm norm, BackendTensor normOutput, BackendTensor weight, WeightLayout layout, BackendTensor? bias,
        BackendTensor output, MatMulEpilogue epilogue = MatMulEpilogue.None)
    {
        const string operation = "NormMatMul";
        norm.Validate(operation);
        var xt = F32(x, operation, "x");
        var nw = Weight(norm.Weight, operation, "norm weight");
        ExpectElements(operation, "norm weight", nw, xt.Columns);
        var nb = norm.Bias is null ? null : Weight(norm.Bias, operation, "norm bias");
        if (nb is not null) ExpectElements(operation, "norm bias", nb, xt.Columns);
        var scratch = F32(normOutput, operation, "normOutput");
        ExpectShape(operation, "normOutput", scratch, xt.Rows, xt.Columns);
        var p = Product(operation, scratch, weight, layout, bias, output, epilogue, "normOutput");

        if (TryLaunchFoldedNormProduct(xt, norm, nw, nb, p, epilogue)) return;
        var variant = ForcedGemvVariant ?? ChooseGemv(p.N, p.K);
        bool fuse = FuseNormIntoGemv
            && _normGemv[(int)variant] is not null
            && p.Rows <= NormGemvMaxRows
            && (ForcedMatMulPath ?? CudaMatMulPath.Gemv) == CudaMatMulPath.Gemv
            && p.Layout == WeightLayout.Linear
            && nw.DType == p.W.DType && (nb is null || nb.DType == p.W.DType)
            && (p.B is null || p.B.DType == p.W.DType)
            && (long)p.Rows * p.K * sizeof(float) <= NormGemvMaxSharedBytes
            && !Overlap(xt, p.Y);
        if (!fuse)
        {
            if (norm.Kind == NormKind.LayerNorm) LayerNorm(x, norm.Weight, norm.Bias, norm.Epsilon, normOutput);
            else RmsNorm(x, norm.Weight, norm.Epsilon, normOutput);
            MatMul(normOutput, weight, layout, bias, output, epilogue);
            return;
        }
        int rowsPerBlock = GemvRowsPerBlock(variant);
        LaunchWithSharedMemory(_normGemv[(int)variant]!.For(p.W.DType), ((uint)Math.Min((p.N + rowsPerBlock - 1) / rowsPerBlock, 1 << 20), 1, 1),
            (GemvThreads(variant, p.K, p.W.DType), 1, 1), (uint)(p.Rows * p.K * sizeof(float)),
            p.W.Pointer, xt.Pointer, nw.Pointer, nb?.Pointer ?? 0UL, p.B?.Pointer ?? 0UL, p.Y.Pointer,
            p.N, p.K, p.Rows, norm.Kind == NormKind.LayerNorm ? 0 : 1, norm.Epsilon, (int)epilogue);
    }

    /// <summary>Whether two tensors' memory overlaps.</summary>
    private static bool Overlap(CudaTensor a, CudaTensor b) =>
        a.Pointer < b.Pointer + (ulong)b.ByteCount && b.Pointer < a.Pointer + (ulong)a.ByteCount;

    public BackendTensor ColumnView(BackendTensor source, long columnOffset, long columns)
    {
        var src = F32OrView(source, "ColumnView", "source");
        if (columnOffset < 0 || columns <= 0 || columnOffset + columns > src.Columns)
            throw Bad("ColumnView", "columnOffset", $"columns {columnOffset}..{columnOffset + columns} are outside {src}");
        return new CudaTensor(src, columnOffset, columns);
    }

    public void Rope(BackendTensor x, BackendBatch batch, int headCount, RotaryEmbedding rope)
    {
        var xt = F32OrView(x, "Rope", "x");
        var b = Batch(batch);
        if (xt.Rows != b.RowCount) throw Bad("Rope", "x", $"{xt} has {xt.Rows} rows for a batch of {b.RowCount}");
        if ((long)headCount * rope.HeadDim > xt.Columns) throw Bad("Rope", "x", $"{xt} is narrower than {headCount} heads of {rope.HeadDim}");
        if (rope.RotaryDim > rope.HeadDim) throw Bad("Rope", "rope", $"{rope.RotaryDim} rotary dimensions exceed the head size {rope.HeadDim}");
        ulong freq = InverseFrequencies(rope.InverseFrequencies);
        long pairs = (long)b.RowCount * headCount * (rope.RotaryDim / 2);
        if (pairs == 0) return;
        Launch(_rope.Plain, Blocks(pairs), Threads,
            xt.Pointer, b.Positions, freq, b.RowCount, headCount, rope.HeadDim, rope.RotaryDim, (int)xt.RowStride, rope.AttentionFactor);
    }

    public void StoreKv(BackendTensor k, BackendTensor v, BackendTensor kCache, BackendTensor vCache, BackendBatch batch)
    {
        var b = Batch(batch);
        var (kt, vt, kc, vc) = KvOperands("StoreKv", k, v, kCache, vCache, b);
        int kvDim = (int)kc.Shape[2];
        Launch(_kvAppend.For(kc.DType), Blocks((long)b.RowCount * kvDim), Threads,
            kt.Pointer, vt.Pointer, kc.Pointer, vc.Pointer, b.Positions, b.Slots, b.RowCount, kvDim, (int)kt.RowStride, (int)kc.Shape[1], (int)vt.RowStride);
    }

    /// <summary>New keys and values [rows, KvWidth] (views allowed) and the caches they go to, checked for <paramref name="operation"/>.</summary>
    private (CudaTensor K, CudaTensor V, CudaTensor KCache, CudaTensor VCache) KvOperands(string operation,
        BackendTensor k, BackendTensor v, BackendTensor kCache, BackendTensor vCache, CudaBatch b)
    {
        var kt = F32OrView(k, operation, "k");
        var vt = F32OrView(v, operation, "v");
        var kc = Cache(kCache, operation, "kCache");
        var vc = Cache(vCache, operation, "vCache");
        ExpectShape(operation, "k", kt, b.RowCount, kc.Shape[2]);
        ExpectShape(operation, "v", vt, b.RowCount, kc.Shape[2]);
        if (!vc.Shape.SequenceEqual(kc.Shape) || vc.DType != kc.DType) throw Bad(operation, "vCache", $"{vc} differs from {kc}");
        return (kt, vt, kc, vc);
    }

    public void Attention(BackendTensor q, BackendTensor kCache, BackendTensor vCache, BackendBatch batch, AttentionShape shape, BackendTensor output) =>
        Attention(q, kCache, vCache, batch, shape, output, newKv: null);

    /// <param name="newKv">
    /// The batch's new keys and values, not yet stored: the split kernel stores them and attends each
    /// row's own position from them (<see cref="StoreKvAndAttend"/>, which checks them and the batch).
    /// </param>
    private void Attention(BackendTensor q, BackendTensor kCache, BackendTensor vCache, BackendBatch batch, AttentionShape shape, BackendTensor output,
        (CudaTensor K, CudaTensor V)? newKv)
    {
        var qt = F32OrView(q, "Attention", "q");
        var kc = Cache(kCache, "Attention", "kCache");
        var vc = Cache(vCache, "Attention", "vCache");
        var y = F32(output, "Attention", "output");
        var b = Batch(batch);
        int rows = b.RowCount, heads = shape.HeadCount, kvHeads = shape.KvHeadCount, hd = shape.HeadDim;
        if (heads <= 0 || kvHeads <= 0 || heads % kvHeads != 0) throw Bad("Attention", "shape", $"{heads} heads cannot share {kvHeads} KV heads");
        if (hd <= 0 || hd > MaxHeadDim) throw Bad("Attention", "shape", $"head size {hd} is outside 1..{MaxHeadDim}");
        if (qt.Rows != rows || qt.Columns < shape.QueryWidth) throw Bad("Attention", "q", $"{qt} does not hold {rows} rows of {shape.QueryWidth}");
        ExpectShape("Attention", "output", y, rows, shape.QueryWidth);
        if (kc.Shape[2] != shape.KvWidth) throw Bad("Attention", "kCache", $"{kc} rows are not {shape.KvWidth} wide");
        if (!vc.Shape.SequenceEqual(kc.Shape) || vc.DType != kc.DType) throw Bad("Attention", "vCache", $"{vc} differs from {kc}");
        if (shape.SlidingWindow is <= 0) throw Bad("Attention", "shape", $"sliding window {shape.SlidingWindow} must be positive");
        int window = shape.SlidingWindow ?? 0;   // the kernels' 0 = the whole context
        int capacity = (int)kc.Shape[1];
        if (newKv is not null || AttentionPath(rows) == CudaAttentionPath.Split)
        {
            // A row sees at most the window's positions: the splits cover that, from its first visible one.
            int context = Math.Min(b.Host.MaxContext, capacity);
            if (window > 0) context = Math.Min(context, window);
            var (splitLen, attentionThreads) = ForcedSplitLength is int forced
                ? (forced, SplitAttentionThreads(forced >= context, hd))
                : SplitAttentionLaunch(context, heads * rows, hd, _sms);
            if (splitLen <= 0) throw Bad("Attention", nameof(ForcedSplitLength), $"{splitLen} positions per split");
            int splits = (context + splitLen - 1) / splitLen;
            ulong partial = Scratch((long)rows * heads * splits * (hd + 2) * sizeof(float));
            Launch(_attentionDecode.For(kc.DType), ((uint)splits, (uint)heads, (uint)rows), ((uint)attentionThreads, 1, 1),
                qt.Pointer, kc.Pointer, vc.Pointer, y.Pointer, partial, SplitCounters(rows * heads), b.Positions, b.Slots,
                heads, kvHeads, hd, (int)qt.RowStride, capacity, splitLen, window, shape.Scale,
                newKv?.K.Pointer ?? 0UL, newKv?.V.Pointer ?? 0UL, (int)(newKv?.K.RowStride ?? 0), (int)(newKv?.V.RowStride ?? 0));
        }
        else
        {
            long warps = (long)rows * heads;
            Launch(_attentionPrefill.For(kc.DType), (uint)Math.Min((warps + 3) / 4, int.MaxValue), 128,
                qt.Pointer, kc.Pointer, vc.Pointer, y.Pointer, b.Positions, b.Slots, rows, heads, kvHeads, hd, (int)qt.RowStride, capacity, window, shape.Scale);
        }
    }

    public void Softmax(BackendTensor x, BackendTensor output)
    {
        var xt = F32(x, "Softmax", "x");
        var y = F32(output, "Softmax", "output");
        ExpectShape("Softmax", "output", y, xt.Rows, xt.Columns);
        if (y.Pointer != xt.Pointer) CudaCopy.DeviceToDevice(y.Pointer, xt.Pointer, xt.ByteCount, Stream);
        Launch(_softmax.Plain, RowBlocks(y.Rows), Threads, y.Pointer, (int)y.Rows, (int)y.Columns);
    }

    public void GeluNew(BackendTensor x, BackendTensor output)
    {
        var xt = F32(x, "GeluNew", "x");
        var y = F32(output, "GeluNew", "output");
        ExpectShape("GeluNew", "output", y, xt.Rows, xt.Columns);
        Launch(_gelu.Plain, Blocks(xt.ElementCount), Threads, xt.Pointer, y.Pointer, (ulong)xt.ElementCount);
    }

    public void SiluMul(BackendTensor gate, BackendTensor up, BackendTensor output)
    {
        var g = F32(gate, "SiluMul", "gate");
        var u = F32(up, "SiluMul", "up");
        var y = F32(output, "SiluMul", "output");
        ExpectShape("SiluMul", "up", u, g.Rows, g.Columns);
        ExpectShape("SiluMul", "output", y, g.Rows, g.Columns);
        int cols = (int)g.Columns;
        Launch(_swiglu.Plain, Blocks(g.ElementCount), Threads, g.Pointer, u.Pointer, y.Pointer, (int)g.Rows, cols, cols, cols, cols);
    }

    public void Add(BackendTensor a, BackendTensor b, BackendTensor output)
    {
        var at = F32(a, "Add", "a");
        var bt = F32(b, "Add", "b");
        var y = F32(output, "Add", "output");
        ExpectShape("Add", "b", bt, at.Rows, at.Columns);
        ExpectShape("Add", "output", y, at.Rows, at.Columns);
        Launch(_add.Plain, Blocks(at.ElementCount), Threads, at.Pointer, bt.Pointer, y.Pointer, (ulong)at.ElementCount);
    }

    public void SliceColumns(BackendTensor source, long columnOffset, BackendTensor output)
    {
        var src = F32(source, "SliceColumns", "source");
        var y = F32(output, "SliceColumns", "output");
        if (y.Rows != src.Rows || columnOffset < 0 || columnOffset + y.Columns > src.Columns)
            throw Bad("SliceColumns", "output", $"columns {columnOffset}..{columnOffset + y.Columns} of {src} do not fit {y}");
        Launch(_sliceColumns.Plain, Blocks(y.ElementCount), Threads,
            src.Pointer, y.Pointer, (int)src.Rows, (int)src.Columns, (int)y.Columns, (int)columnOffset);
    }

    public void GatherRows(BackendTensor source, BackendBatch batch, BackendTensor output)
    {
        var src = F32(source, "GatherRows", "source");
        var b = Batch(batch);
        var y = F32(output, "GatherRows", "output");
        ExpectShape("GatherRows", "output", y, b.Host.OutputRows.Length, src.Columns);
        foreach (var r in b.Host.OutputRows)
            if (r >= src.Rows) throw Bad("GatherRows", "batch", $"output row {r} is outside {src}");
        Launch(_gatherRows.Plain, Blocks(y.ElementCount), Threads,
            src.Pointer, b.OutputRows, y.Pointer, b.Host.OutputRows.Length, (int)src.Columns);
    }

    /// <summary>Greedy sampling on the device: the first largest value of each row of x [rows, cols] (4 bytes per row come back).</summary>
    public int[] Argmax(BackendTensor x)
    {
        int rows = (int)F32(x, "Argmax", "x").Rows;
        var memory = Allocator.Allocate(rows * sizeof(int), "argmax");
        try
        {
            ArgmaxInto(x, memory.Pointer);
            var result = new int[rows];
            unsafe
            {
                fixed (int* r = result) CudaCopy.DeviceToHost((IntPtr)r, memory.Pointer, rows * sizeof(int), Stream);
            }
            Stream.Synchronize();
            return result;
        }
        finally
        {
            Allocator.Free(memory);
        }
    }

    private void AddBias(CudaTensor y, CudaTensor bias) =>
        Launch(_addBias.For(bias.DType), Blocks(y.ElementCount), Threads, y.Pointer, bias.Pointer, (int)y.Rows, (int)y.Columns);

    private unsafe ulong InverseFrequencies(float[] frequencies)
    {
        if (_invFreq.TryGetValue(frequencies, out var memory)) return memory.Pointer;
        memory = Allocator.Allocate(Math.Max(1, frequencies.Length) * sizeof(float), "rope.inv_freq");
        fixed (float* f = frequencies) CudaCopy.HostToDevice(memory.Pointer, (IntPtr)f, frequencies.Length * sizeof(float), Stream);
        _invFreq[frequencies] = memory;
        return memory.Pointer;
    }

    // ------------------------------------------------------------------ graph steps

    // A decode step is some 700 tiny kernels; launched one by one the host spends ~2.5 µs on each and the
    // GPU idles between them. Recorded and replayed as one CUDA graph they cost one launch.

    /// <summary>Bytes of the batch block small batches share: ids, positions, slots and output rows of up to <see cref="GemvMaxRows"/> rows.</summary>
    private const int StepBatchBytes = 4 * GemvMaxRows * sizeof(int);

    private readonly CudaStream _stream;
    private CudaGraphStep? _graphStep;
    private DeviceAllocation? _stepBatch;
    private bool _stepBatchInUse;

    /// <summary>
    /// Starts recording a step: until <see cref="EndGraphStep"/>, kernel launches are recorded
    /// instead of queued. Anything else that would queue work on <see cref="Stream"/> meanwhile
    /// (a copy, a fill, cuBLAS, a download, a new scratch block's zeroing) makes the step fall back:
    /// the launches recorded so far are queued one by one, the rest of the step launches directly,
    /// and <see cref="NnlCudaGraphStatistics.Fallbacks"/> counts it. Results never depend on it.
    /// </summary>
    /// <remarks>
    /// The recorded kernels read memory the host may meanwhile free and hand out again; that is safe
    /// for the same reason asynchronous launches are: every use runs in the order it was issued.
    /// </remarks>
    /// <param name="wholeStep">One segment after the first: the GPU is busy with the step before (<see cref="CudaGraphStep.Begin"/>).</param>
    public void BeginGraphStep(bool wholeStep = false)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _graphStep ??= new CudaGraphStep(Context);
        if (MinGraphSegmentLaunches is { } min) _graphStep.MinSegmentLaunches = min;
        if (GraphSegmentRamp is { } ramp) _graphStep.SegmentRamp = ramp;
        _graphStep.TimeSteps = TimeGraphSteps;
        _graphStep.Begin(wholeStep);
    }

    /// <summary>
    /// Time every graph step's segments with CUDA events: <see cref="NnlCudaGraphStatistics.Timing"/> then
    /// says how long the GPU ran them and how long it sat idle waiting for the host, inside a step and
    /// between steps. Off by default (two event records a segment); NNL_GRAPH_TIMING=1 turns it on.
    /// </summary>
    public bool TimeGraphSteps { get; set; } = Environment.GetEnvironmentVariable("NNL_GRAPH_TIMING") == "1";

    /// <summary>
    /// Fewest launches a graph segment holds before a cut (<see cref="CutGraphStep"/>) takes effect
    /// (the step's first segment excepted); null keeps <see cref="CudaGraphStep.MinSegmentLaunches"/>'s default.
    /// </summary>
    public int? MinGraphSegmentLaunches { get; set; }

    /// <summary>
    /// The minimum of a step's second segment, growing fourfold a segment up to <see cref="MinGraphSegmentLaunches"/>
    /// (0: no ramp); null keeps <see cref="CudaGraphStep.SegmentRamp"/>'s default.
    /// </summary>
    public int? GraphSegmentRamp { get; set; }

    /// <summary>
    /// True when this context's kernels wait for their predecessors inside (the sm90 set) and a graph
    /// step joins consecutive kernels with programmatic edges, so each starts while the one before drains.
    /// </summary>
    public bool ProgrammaticGraphEdges => KernelLibrary.UsesGridDependency(Context);

    /// <summary>
    /// Ends the step and queues its launches on <see cref="Stream"/> as one graph: the last step's
    /// graph with the changed nodes updated when it ran the same kernels, else a new one.
    /// </summary>
    public void EndGraphStep()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_graphStep is null) throw new InvalidOperationException("No graph step is open (BeginGraphStep).");
        _graphStep.End(_stream);
    }

    /// <summary>
    /// Queues what the step recorded so far as a graph segment of its own and records on: the GPU
    /// starts on the first nodes while the host records the next (without cuts the GPU idles until
    /// the whole step is recorded). Each segment keeps its own graph for the next step. A cut before
    /// the segment holds <see cref="MinGraphSegmentLaunches"/> launches records on instead.
    /// </summary>
    public void CutGraphStep()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _graphStep?.Cut(_stream);
    }

    /// <summary>Ends a step that failed or was cancelled: its launches recorded since the last cut are dropped, not run.</summary>
    public void AbandonGraphStep() => _graphStep?.Abandon();

    /// <summary>True while launches are being recorded (a step is open and has not fallen back).</summary>
    public bool IsRecordingGraph => _graphStep is { IsRecording: true };

    /// <summary>True while an executable graph of the last step is kept.</summary>
    public bool HasCachedGraph => _graphStep is { HasGraph: true };

    /// <summary>Replays, node updates, rebuilds and fallbacks of the graph steps so far.</summary>
    public NnlCudaGraphStatistics GraphStatistics => _graphStep?.Statistics ?? new(0, 0, 0, 0, 0, 0, null);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private CudaStream FallBackForStreamWork()
    {
        // Rare (a step's first scratch zeroing, a Softmax copy): name the operation for the statistics.
        string? caller = null;
        foreach (var frame in new StackTrace(1, false).GetFrames())
        {
            var name = frame.GetMethod()?.Name;
            if (name is null or "get_Stream") continue;
            caller = name;
            break;
        }
        _graphStep!.FallBack(_stream, $"stream work during the step ({caller ?? "unknown"})");
        return _stream;
    }

    /// <summary>
    /// Device memory for a batch's packed arrays. Small batches (decode) share one block kept for the
    /// backend's life, so the kernels' batch pointers, and a replayed graph's nodes, stay the same
    /// from step to step; the next step's upload is queued behind this step's kernels on the stream.
    /// </summary>
    private DeviceAllocation BatchMemory(int rows, long bytes)
    {
        if (rows <= GemvMaxRows && bytes <= StepBatchBytes && !_stepBatchInUse)
        {
            _stepBatch ??= Allocator.Allocate(StepBatchBytes, "batch (decode)");
            _stepBatchInUse = true;
            return _stepBatch;
        }
        return Allocator.Allocate(bytes, "batch");
    }

    /// <summary>Gives back a batch's memory (<see cref="CudaBatch.Dispose"/>): the shared decode block is kept.</summary>
    internal void FreeInternal(DeviceAllocation memory)
    {
        if (ReferenceEquals(memory, _stepBatch)) _stepBatchInUse = false;
        else Allocator.Free(memory);
    }

    // ------------------------------------------------------------------ launching and checking

    private void Launch(CudaKernel kernel, uint grid, uint block, params ReadOnlySpan<KernelArg> args) =>
        Launch(kernel, (grid, 1, 1), (block, 1, 1), args);

    private void Launch(CudaKernel kernel, (uint, uint, uint) grid, (uint, uint, uint) block, params ReadOnlySpan<KernelArg> args) =>
        LaunchWithSharedMemory(kernel, grid, block, 0, args);

    /// <summary>Dynamic shared memory a block gets without its kernel opting in to more (SetMaxDynamicSharedMemory).</summary>
    private const int SharedBytesWithoutOptIn = 48 * 1024;

    /// <param name="sharedBytes">
    /// Dynamic shared memory of each block: at most <see cref="SharedBytesWithoutOptIn"/>, unless the kernel
    /// opted in to more (the whole-block kernel, <see cref="DecoderBlock"/>).
    /// </param>
    private void LaunchWithSharedMemory(CudaKernel kernel, (uint, uint, uint) grid, (uint, uint, uint) block, uint sharedBytes, params ReadOnlySpan<KernelArg> args)
    {
        Launches++;
        if (_graphStep is { IsRecording: true } step) step.Record(kernel, grid, block, sharedBytes, args);
        else kernel.Launch(_stream, grid, block, sharedBytes, args);
    }

    /// <summary>Output rows each block of a GEMV variant owns (warp variants: 8 warps of 256 threads).</summary>
    public static int GemvRowsPerBlock(CudaGemvVariant variant) => variant switch
    {
        CudaGemvVariant.OneRow or CudaGemvVariant.OneRowDeep => 8,
        CudaGemvVariant.TwoRows => 16,
        CudaGemvVariant.FourRows or CudaGemvVariant.FourRowsDeep => 32,
        CudaGemvVariant.BlockTwoRows => 2,
        CudaGemvVariant.BlockFourRows => 4,
        _ => throw new ArgumentOutOfRangeException(nameof(variant)),
    };

    /// <summary>
    /// Threads of a GEMV block: 256 for the warp-per-row variants; the split-k ones give a row's
    /// 16-byte vectors (k/8 of fp16, k/4 of fp32) about one thread each, whole warps, at most 256,
    /// so a short row (k = 1600: 200 vectors, 7 warps) leaves no thread idle.
    /// </summary>
    private static uint GemvThreads(CudaGemvVariant variant, int k, TensorDType type)
    {
        if (variant < CudaGemvVariant.BlockTwoRows) return Threads;
        int vectors = (k + (type == TensorDType.F32 ? 3 : 7)) / (type == TensorDType.F32 ? 4 : 8);
        return (uint)Math.Clamp((vectors + 31) / 32 * 32, 32, (int)Threads);
    }

    /// <summary>
    /// The row-kernel GEMV variant for an [n, k] nn.Linear weight (a one-token product takes
    /// <see cref="CudaGemvVariant.InputInRegisters"/> first, where it fits: GPT-2-XL's c_attn 5.7 against
    /// 8.5 us, c_fc 6.9 against 9.4, its MLP c_proj 7.3 against 8.4, Llama-2-13B attn_q 15.1 against
    /// 16.7, replayed in graphs on the H200, 2026-11-21), by the H200 measurements of 2026-11-21
    /// (CudaGemvBandwidthTests; docs/performance.md):
    /// - few rows (n ≤ 2048, GPT-2-XL's c_proj [1600, 6400] and [1600, 1600]): a warp per row
    ///   leaves 200 blocks for 132 SMs, each lane with a long serial row, and FourRows only 400
    ///   warps (14.8 us); a block per four rows with k split over its threads, 64 registers, reads
    ///   [1600, 6400] in 8.5 us (OneRow 11.2) and [1600, 1600] in 4.6 (4.9);
    /// - k ≥ 5120 (Llama-2-13B): a block per two rows with k split over its threads. Four rows per
    ///   warp were about 20 % faster than one, and a block per two rows faster again once kernels
    ///   overlap under programmatic launch: in graphs attn_q [5120, 5120] 16.5 us against 19.3,
    ///   ffn_up [13824, 5120] 37.8 against 40.9, ffn_down 39.3 against 40.2
    ///   (CudaDecodeKernelTimingTests); the whole resident Llama-2-13B step 7.96 against
    ///   8.33 ms (`nnl bench`, NNL_GEMV_VARIANT, same run);
    /// - GPT-2-XL's c_attn and c_fc [4800 or 6400, 1600]: four rows per warp, 5-8 % faster;
    /// - otherwise (lm_head [50257, 1600], Llama-2-7B's k = 4096) one row per warp.
    /// </summary>
    private static CudaGemvVariant ChooseGemv(int n, int k) =>
        n <= 2048 ? CudaGemvVariant.BlockFourRows
        : k >= 5120 ? CudaGemvVariant.BlockTwoRows
        : n is >= 4096 and <= 8192 && k <= 2048 ? CudaGemvVariant.FourRows
        : CudaGemvVariant.OneRow;

    /// <summary>
    /// Positions per split and threads per block of split attention for a context of
    /// <paramref name="context"/> positions and <paramref name="rowHeads"/> (row, head) pairs.
    /// A context that one block covers in two steps of the inner loop per warp (nnl_attention.cuh:
    /// 32 / NI keys a warp; 16 warps, 8 at head size 256, as the kernel's 96 registers allow: 512
    /// positions at head size 64, 256 at 128) is one split: its warps merge in shared memory and write the output, with no partial
    /// write, fence and second pass. H200, GPT-2-XL's 25 heads, kernels replayed in graphs
    /// (CudaDecodeKernelTimingTests, 2026-11-21): contexts 17 / 49 / 257 took 5.4 / 5.9 / 9.3 us
    /// split in 64s; one split is 3.7 / 4.0 us with 8 warps (4.5 / 5.0 with 16: short contexts
    /// take 8) and 8.9 us at 257 with 16.
    /// Longer ones split as before: about eight 4-warp blocks per SM so the cache reads overlap,
    /// at least 64 positions a split.
    /// </summary>
    public static (int SplitLength, int Threads) SplitAttentionLaunch(int context, int rowHeads, int headDim, int sms)
    {
        var (keysPerWarp, maxWarps) = headDim <= 64 ? (16, 16) : headDim <= 128 ? (8, 16) : (4, 8);
        // The split length stays fixed while the context grows, so a replayed graph step keeps its
        // node; the block has 8 warps while one step each covers the context (128 positions at head
        // size 64), then 16 (threads change once).
        if (context <= 8 * keysPerWarp) return (2 * keysPerWarp * maxWarps, 256);
        if (context <= 2 * keysPerWarp * maxWarps) return (2 * keysPerWarp * maxWarps, SplitAttentionThreads(true, headDim));
        int wanted = Math.Max(1, (8 * sms + rowHeads - 1) / rowHeads);
        return (Math.Max(64, (context + wanted - 1) / wanted), SplitAttentionThreads(false, headDim));
    }

    /// <summary>Threads of a split-attention block: all the warps one block can merge for a single split, else 4 warps.</summary>
    private static int SplitAttentionThreads(bool oneSplit, int headDim) =>
        oneSplit ? 32 * (headDim <= 128 ? 16 : 8) : 128;

    /// <summary>Blocks for a grid-stride kernel over n elements: enough to fill the GPU, no more.</summary>
    private uint Blocks(long n) => (uint)Math.Clamp((n + Threads - 1) / Threads, 1, 16L * _sms);

    /// <summary>
    /// Threads of a LayerNorm/RMSNorm block (one per row): about two float4 slices of the row per
    /// thread, which the kernels keep in registers (up to 4 each), whole warps, 32 to 1024. A decode
    /// step's 1600-float row is then 7 warps with one read of x and short reductions, where a
    /// 1024-thread block doing three passes over the row took about 6 us on an H200.
    /// </summary>
    private static uint NormThreads(long dim) => (uint)Math.Clamp(((((dim + 3) / 4 + 1) / 2) + 31) / 32 * 32, 32, 1024);

    /// <summary>Blocks for a block-per-row kernel.</summary>
    private uint RowBlocks(long rows) => (uint)Math.Clamp(rows, 1, 65535);

    private static string Suffix(TensorDType t) => t switch
    {
        TensorDType.F16 => "f16",
        TensorDType.BF16 => "bf16",
        TensorDType.F32 => "f32",
        _ => throw new NnlArgumentException("dtype", $"the CUDA backend has no kernels for {t}"),
    };

    private static Cublas.DataType CublasType(TensorDType t) => t switch
    {
        TensorDType.F16 => Cublas.DataType.F16,
        TensorDType.BF16 => Cublas.DataType.BF16,
        _ => Cublas.DataType.F32,
    };

    private CudaTensor Own(BackendTensor tensor, string operation)
    {
        if (tensor is not CudaTensor t || t.Backend != this)
            throw new NnlArgumentException("tensor", $"{operation}: {tensor} does not belong to {Name}");
        if (!t.Live) throw new NnlArgumentException("tensor", $"{operation}: {tensor} {(t.Pointer == 0 ? "was released" : "is a view of a released tensor")}");
        return t;
    }

    private CudaTensor F32(BackendTensor tensor, string operation, string parameter)
    {
        var t = F32OrView(tensor, operation, parameter);
        if (t.ViewOf is not null)
            throw Bad(operation, parameter, $"{t} is a column view; only Rope, StoreKv and Attention take views (SliceColumns copies columns out)");
        return t;
    }

    /// <summary>An F32 [rows, columns] tensor, whole or a column view (the kernel takes a row stride).</summary>
    private CudaTensor F32OrView(BackendTensor tensor, string operation, string parameter)
    {
        var t = Own(tensor, operation);
        if (t.DType != TensorDType.F32) throw Bad(operation, parameter, $"{t} must be F32");
        if (t.Shape.Length != 2) throw Bad(operation, parameter, $"{t} must be two-dimensional [rows, columns]");
        return t;
    }

    private CudaTensor Weight(BackendTensor tensor, string operation, string parameter)
    {
        var t = Own(tensor, operation);
        if (t.ViewOf is not null) throw Bad(operation, parameter, $"{t} is a column view; weights must be whole tensors");
        Suffix(t.DType);
        return t;
    }

    private CudaTensor Cache(BackendTensor tensor, string operation, string parameter)
    {
        var t = Own(tensor, operation);
        if (t.Shape.Length != 3) throw Bad(operation, parameter, $"{t} must be [slots, capacity, kv width]");
        Suffix(t.DType);
        return t;
    }

    private CudaBatch Batch(BackendBatch batch) =>
        batch as CudaBatch ?? throw new NnlArgumentException("batch", $"the batch was not prepared by {Name}");

    private static void ExpectShape(string operation, string parameter, CudaTensor t, long rows, long columns)
    {
        if (t.Rows != rows || t.Columns != columns) throw Bad(operation, parameter, $"{t} should be [{rows}, {columns}]");
    }

    private static void ExpectElements(string operation, string parameter, CudaTensor t, long count)
    {
        if (t.ElementCount != count) throw Bad(operation, parameter, $"{t} should have {count} elements");
    }

    private static NnlArgumentException Bad(string operation, string parameter, string message) =>
        new(parameter, $"{operation}: {message}");

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _graphStep?.Abandon();
        try { _stream.Synchronize(); } catch (NnlException) { /* a failed stream still gets its memory back */ }
        _graphStep?.Dispose();
        _graphStep = null;
        if (_stepBatch is not null) Allocator.Free(_stepBatch);
        _stepBatch = null;
        foreach (var m in _invFreq.Values) Allocator.Free(m);
        _invFreq.Clear();
        foreach (var m in _foldConstants.Values) Allocator.Free(m);
        _foldConstants.Clear();
        _constants.Clear();
        if (_scratch is not null) Allocator.Free(_scratch);
        _scratch = null;
        if (_splitCounters is not null) Allocator.Free(_splitCounters);
        _splitCounters = null;
        if (_decoderBlockCounters is not null) Allocator.Free(_decoderBlockCounters);
        _decoderBlockCounters = null;
        _cublas?.Dispose();
        if (_ownsAllocator) Allocator.Dispose();
        if (_ownsStream) _stream.Dispose();
    }
}
