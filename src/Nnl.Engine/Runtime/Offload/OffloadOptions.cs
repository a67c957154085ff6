using Nnl.Engine.Models;

namespace Nnl.Engine.Runtime.Offload;

/// <summary>How a model runs on a GPU whose memory (or the user's budget) is smaller than the model.</summary>
public sealed record OffloadOptions
{
    /// <summary>CUDA device ordinal.</summary>
    public int Device { get; init; }

    /// <summary>GPU memory the model may use (weights, KV cache, activations); null = what is free on the device.</summary>
    public long? MaxGpuMemoryBytes { get; init; }

    /// <summary>How many nodes ahead of the one computing the copy stream may bring in.</summary>
    public int PrefetchDepth { get; init; } = 2;

    /// <summary>Transformer blocks to keep resident; null = as many as fit (Auto).</summary>
    public int? ResidentLayers { get; init; }

    /// <summary>
    /// Keep streamed weights in pinned host memory (the fast path). Off: read them from the
    /// safetensors files ahead of need into a ring of pinned staging buffers (disk → pinned → GPU).
    /// </summary>
    public bool HostCache { get; init; } = true;

    /// <summary>Tokens per sequence the KV cache is planned for (prompt + generated).</summary>
    public int ContextLength { get; init; } = 512;

    /// <summary>Sequences generated together (KV-cache slots planned for).</summary>
    public int BatchSize { get; init; } = 1;

    /// <summary>Rows of the largest prefill pass the activations are planned for.</summary>
    public int MaxPrefillRows { get; init; } = 512;

    /// <summary>
    /// Rows of logits one pass may return (a generation needs one per sequence; all-position logits
    /// of a prompt need one per token). The head's activations are planned for this many rows, not
    /// for <see cref="MaxPrefillRows"/>: the logits of 512 rows of a 50k vocabulary would hold
    /// 300 MB of the budget that resident weights can use instead.
    /// </summary>
    public int MaxLogitRows { get; init; } = 64;

    /// <summary>Stream every node, keep nothing resident (tests and benchmarks of the pure streaming path).</summary>
    public bool StreamAllNodes { get; init; }

    /// <summary>Use cuBLAS for prefill products where it is installed.</summary>
    public bool UseCublas { get; init; } = true;

    /// <summary>
    /// Store resident Conv1D weights (GPT-2's) transposed, as nn.Linear's [out, in], so decode reads
    /// them with the one-row-per-warp GEMV (about twice the Conv1D kernel's rate on GPT-2-XL's
    /// matrices). Streamed weights keep their file layout: their copy, not the product, sets the pace.
    /// </summary>
    public bool TransposeConv1DWeights { get; init; } = true;

    /// <summary>
    /// When every weight is resident, run each decode step (up to <see cref="Cuda.CudaBackend.GemvMaxRows"/>
    /// rows) as one CUDA graph instead of some 700 separate kernel launches. Off: launch them one by one.
    /// </summary>
    public bool UseCudaGraphs { get; init; } = true;

    /// <summary>
    /// When every weight is resident, greedy decoding (nnl bench, and generation at temperature 0 without a
    /// repetition penalty) takes each token's argmax on the device and queues the next step before the
    /// token reaches the host (<see cref="IGreedyDecodePipeline"/>), so the GPU does not idle between
    /// steps. The NNL_GREEDY_PIPELINE environment variable set to 0 turns the default off.
    /// </summary>
    public bool PipelineGreedyDecode { get; init; } = Environment.GetEnvironmentVariable("NNL_GREEDY_PIPELINE") != "0";

    /// <summary>
    /// Element type of the KV cache: F16, BF16 or F32 (the CPU engine's, for exact comparisons); null
    /// (default) = the type most of the weights have, as transformers keeps it (F16 for an fp16 model,
    /// BF16 for a bf16 one, whose activations may exceed fp16's range). The kernels accumulate in F32.
    /// </summary>
    public TensorDType? KvCacheType { get; init; }

    /// <summary>The table's KV cache in <see cref="KvCacheType"/>, or in its weights' type.</summary>
    public KvCacheShape KvCacheOf(ComputationTable table) => table.KvCache with { ElementType = KvCacheType ?? WeightType(table) };

    /// <summary>The element type holding most of the table's weight bytes.</summary>
    private static TensorDType WeightType(ComputationTable table) =>
        table.DistinctWeights.GroupBy(t => t.DType).OrderByDescending(g => g.Sum(t => t.ByteCount)).Select(g => g.Key).FirstOrDefault(TensorDType.F32);

    public void Validate()
    {
        if (KvCacheType is { } kv && kv is not (TensorDType.F16 or TensorDType.BF16 or TensorDType.F32))
            throw new NnlArgumentException(nameof(KvCacheType), $"the KV cache holds fp16, bf16 or fp32, not {KvCacheType}");
        if (Device < 0) throw new NnlArgumentException(nameof(Device), $"a device ordinal is 0 or more, not {Device}");
        if (MaxGpuMemoryBytes is <= 0) throw new NnlArgumentException("MaxGpuMemory", $"the budget must be positive, not {MaxGpuMemoryBytes}");
        if (PrefetchDepth is < 1 or > 16) throw new NnlArgumentException(nameof(PrefetchDepth), $"must be between 1 and 16, not {PrefetchDepth}");
        if (ResidentLayers is < 0) throw new NnlArgumentException(nameof(ResidentLayers), $"must be 0 or more, not {ResidentLayers}");
        if (ContextLength < 1) throw new NnlArgumentException(nameof(ContextLength), $"must be positive, not {ContextLength}");
        if (BatchSize < 1) throw new NnlArgumentException(nameof(BatchSize), $"must be positive, not {BatchSize}");
        if (MaxLogitRows < 1) throw new NnlArgumentException(nameof(MaxLogitRows), $"must be positive, not {MaxLogitRows}");
        if (MaxPrefillRows < 1) throw new NnlArgumentException(nameof(MaxPrefillRows), $"must be positive, not {MaxPrefillRows}");
    }
}
