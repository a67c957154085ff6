using Nnl.Engine.Cuda;
using Nnl.Engine.Models;

namespace Nnl.Engine.Runtime.Cuda;

/// <summary>The decoder block as one persistent kernel (kernels/decoder_block.cu) where it can be, composed otherwise.</summary>
public sealed partial class CudaBackend
{
    /// <summary>Threads of a decoder-block kernel's block (NNL_DB_THREADS; KernelSizesTests checks the kernel's sizes against these).</summary>
    internal const int DecoderBlockThreads = 512;

    /// <summary>The threads' queues of 16-byte weight vectors in flight (NNL_DB_DEPTH × NNL_DB_VECTORS × NNL_DB_THREADS × 16).</summary>
    internal const int DecoderBlockQueueBytes = 5 * 4 * DecoderBlockThreads * 16;

    /// <summary>Rows of one product one block owns at most (NNL_DB_MAX_ROWS).</summary>
    internal const int DecoderBlockMaxRows = 64;

    /// <summary>Largest head the kernel's attention takes.</summary>
    private const int DecoderBlockMaxHeadDim = 128;

    private KernelHandle? _decoderBlock;
    private DeviceAllocation? _decoderBlockCounters;
    private readonly Dictionary<(TensorDType, int), bool> _decoderBlockFits = new();   // (type, shared bytes) → one block fits an SM

    /// <summary>
    /// Run a one-token <see cref="DecoderBlock"/> as one kernel where the shapes allow; false composes
    /// the six operations. Off by default: on the H200 (2026-11-21) resident GPT-2-XL decoded at
    /// 2.58-3.07 ms/token with it against 2.26-2.52 composed (docs/performance.md, "Whole-block
    /// kernel"). The NNL_DECODER_BLOCK environment variable set to 1 makes true the default; tests force both.
    /// </summary>
    public bool FuseDecoderBlock { get; set; } = Environment.GetEnvironmentVariable("NNL_DECODER_BLOCK") == "1";

    /// <summary>Decoder blocks that ran as one kernel (tests and benchmarks read it).</summary>
    public long FusedDecoderBlocks { get; private set; }

    /// <summary>Why the last <see cref="DecoderBlock"/> was composed, or null when it ran as one kernel.</summary>
    public string? DecoderBlockCompositionReason { get; private set; }

    public void DecoderBlock(BackendTensor x, DecoderBlockWeights weights, DecoderBlockScratch scratch,
        BackendTensor kCache, BackendTensor vCache, BackendBatch batch, AttentionShape shape)
    {
        DecoderBlockCompositionReason = FuseDecoderBlock ? TryFusedDecoderBlock(x, weights, scratch, kCache, vCache, batch, shape) : "turned off (FuseDecoderBlock)";
        if (DecoderBlockCompositionReason is null)
        {
            FusedDecoderBlocks++;
            return;
        }
        DecoderBlockComposition.Compose(this, x, weights, scratch, kCache, vCache, batch, shape);
    }

    /// <summary>
    /// Launches the kernel when every operand fits it, and says why not otherwise (nothing launched):
    /// the composed operations then check the operands and name what is wrong with them.
    /// </summary>
    private string? TryFusedDecoderBlock(BackendTensor x, DecoderBlockWeights w, DecoderBlockScratch scratch,
        BackendTensor kCache, BackendTensor vCache, BackendBatch batch, AttentionShape shape)
    {
        const string op = "DecoderBlock";
        var xt = F32(x, op, "x");
        var b = Batch(batch);
        if (b.RowCount != 1 || xt.Rows != 1) return $"{b.RowCount} rows (one token only)";
        int hidden = checked((int)xt.Columns), qw = shape.QueryWidth, kvw = shape.KvWidth;
        if (shape.HeadCount <= 0 || shape.KvHeadCount <= 0 || shape.HeadCount % shape.KvHeadCount != 0) return "head counts";
        if (shape.HeadDim is <= 0 or > DecoderBlockMaxHeadDim) return $"head size {shape.HeadDim}";
        if (shape.SlidingWindow is <= 0) return "sliding window";

        var qkv = Weight(w.Qkv, op, "qkv");
        var type = qkv.DType;
        int bytes = type.ElementBytes();
        var output = Weight(w.Output, op, "output");
        var up = Weight(w.Up, op, "up");
        var down = Weight(w.Down, op, "down");
        int inner = checked((int)LinearOut(up, w.Layout));
        if (!LinearMemory(qkv, w.Layout, qw + 2 * kvw, hidden) || !LinearMemory(output, w.Layout, hidden, qw)
            || !LinearMemory(up, w.Layout, inner, hidden) || !LinearMemory(down, w.Layout, hidden, inner))
            return "a product's memory is not [out, in] of the block's shapes";
        foreach (var t in new[] { output, up, down })
            if (t.DType != type) return "products of different types";
        foreach (int k in new[] { hidden, qw, inner })
            if (k * bytes % 16 != 0) return $"row of {k} elements is no whole number of 16-byte vectors";
        if (w.MlpNorm.Epsilon != w.AttentionNorm.Epsilon) return "norms with different epsilons";
        foreach (var n in new[] { w.AttentionNorm, w.MlpNorm })
        {
            n.Validate(op);
            if (n.Kind != NormKind.LayerNorm) return "RMSNorm";
            if (Weight(n.Weight, op, "norm weight") is var nw && (nw.DType != type || nw.ElementCount != hidden)) return "norm weight";
            if (n.Bias is not null && Weight(n.Bias, op, "norm bias") is var nb && (nb.DType != type || nb.ElementCount != hidden)) return "norm bias";
        }
        var biases = new (BackendTensor? Tensor, int Count)[] { (w.QkvBias, qw + 2 * kvw), (w.OutputBias, hidden), (w.UpBias, inner), (w.DownBias, hidden) };
        foreach (var (t, count) in biases)
            if (t is not null && Weight(t, op, "bias") is var bt && (bt.DType != type || bt.ElementCount != count)) return "bias";
        var kc = Cache(kCache, op, "kCache");
        var vc = Cache(vCache, op, "vCache");
        if (kc.DType != type || vc.DType != type || kc.Shape[2] != kvw || !vc.Shape.SequenceEqual(kc.Shape)) return "KV cache type or shape";
        if (b.Host.Positions[0] < 0 || b.Host.Positions[0] >= kc.Shape[1] || b.Host.Slots[0] < 0 || b.Host.Slots[0] >= kc.Shape[0]) return "position outside the cache";
        // The norms' scratch stays unwritten: each block normalises x into its shared memory.
        var qBuffer = F32(scratch.Qkv, op, "scratch qkv");
        var attention = F32(scratch.Attention, op, "scratch attention");
        var upBuffer = F32(scratch.Up, op, "scratch up");
        if (qBuffer.ElementCount < qw || attention.ElementCount < qw || upBuffer.ElementCount < inner) return "scratch too small";
        if (Overlap(xt, qBuffer) || Overlap(xt, attention) || Overlap(xt, upBuffer)) return "scratch overlaps x";
        if (hidden > 16 * DecoderBlockThreads) return $"hidden size {hidden} (the norm holds at most {16 * DecoderBlockThreads} in registers)";
        int rowsPerBlock = (Math.Max(Math.Max(qw + 2 * kvw, hidden), inner) + _sms - 1) / _sms;
        if (rowsPerBlock > DecoderBlockMaxRows) return $"{rowsPerBlock} rows a block";

        // The vector region holds the product's input, or the attention's per-warp partial outputs.
        int vectorFloats = Math.Max(Math.Max(hidden, qw), Math.Max(inner, 16 * (shape.HeadDim <= 64 ? 64 : 128)));
        int shared = DecoderBlockQueueBytes + vectorFloats * sizeof(float);
        _decoderBlock ??= new KernelHandle(Context, "decoder_block", "nnl_decoder_block");
        var kernel = _decoderBlock.For(type);
        if (!_decoderBlockFits.TryGetValue((type, shared), out bool fits))
        {
            kernel.SetMaxDynamicSharedMemory(shared);
            // Every block must be resident at once: the phases wait for one another.
            fits = kernel.MaxActiveBlocksPerMultiprocessor(DecoderBlockThreads, shared) >= 1;
            _decoderBlockFits[(type, shared)] = fits;
        }
        if (!fits) return $"{shared} bytes of shared memory do not fit an SM";
        if (_decoderBlockCounters is null)
        {
            // Zeroed on the stream itself, not through Stream: a graph step being recorded does not
            // fall back for it. The fill runs before anything recorded now, which is launched later.
            _decoderBlockCounters = Allocator.Allocate(64 * sizeof(uint), "decoder_block.counters");
            CudaCopy.Fill(_decoderBlockCounters.Pointer, 0, _decoderBlockCounters.Bytes, _stream);
        }

        LaunchWithSharedMemory(kernel, ((uint)_sms, 1, 1), (DecoderBlockThreads, 1, 1), (uint)shared,
            xt.Pointer, Pointer(w.AttentionNorm.Weight), Pointer(w.AttentionNorm.Bias), qkv.Pointer, Pointer(w.QkvBias),
            output.Pointer, Pointer(w.OutputBias), Pointer(w.MlpNorm.Weight), Pointer(w.MlpNorm.Bias),
            up.Pointer, Pointer(w.UpBias), down.Pointer, Pointer(w.DownBias),
            qBuffer.Pointer, attention.Pointer, upBuffer.Pointer, kc.Pointer, vc.Pointer, b.Positions, b.Slots, _decoderBlockCounters.Pointer,
            hidden, inner, shape.HeadCount, shape.KvHeadCount, shape.HeadDim, (int)kc.Shape[1], shape.SlidingWindow ?? 0,
            w.AttentionNorm.Epsilon, shape.Scale);
        return null;
    }

    /// <summary>Outputs of a product weight as its memory holds them (nn.Linear's [out, in]).</summary>
    private static long LinearOut(CudaTensor w, WeightLayout layout) => layout == WeightLayout.Linear ? w.Rows : w.Columns;

    /// <summary>Whether the memory of <paramref name="w"/> is [out, in] row-major (nn.Linear, or Conv1D stored transposed), 16-byte aligned.</summary>
    private static bool LinearMemory(CudaTensor w, WeightLayout layout, long outputs, long inputs)
    {
        if (w.Shape.Length != 2 || !((layout == WeightLayout.Linear && !w.StoredTransposed) || (layout == WeightLayout.Conv1D && w.StoredTransposed))) return false;
        var (o, i) = layout == WeightLayout.Linear ? (w.Rows, w.Columns) : (w.Columns, w.Rows);
        return o == outputs && i == inputs && (w.Pointer & 15) == 0;
    }

    private ulong Pointer(BackendTensor? t) => t is null ? 0UL : Own(t, "DecoderBlock").Pointer;
}
