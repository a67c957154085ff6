namespace Nnl.Engine.Benchmarks;

/// <summary>
/// One point of a Measure-NnlInference sweep: a model on a device under one budget and prefetch
/// depth. Decode figures are per decode step (each sequence of the batch gets one token per step),
/// over every step of every repetition after the warm-up. The offload figures (streamed bytes,
/// bound, efficiency, PCIe, peak memory) are empty where nothing is streamed, as on the CPU.
/// </summary>
public sealed record NnlInferenceBenchmark
{
    public required string Model { get; init; }
    public required string Device { get; init; }

    /// <summary>The GPU memory budget of this point as asked (null: what is free); the CPU ignores it.</summary>
    public long? BudgetBytes { get; init; }

    public int? PrefetchDepth { get; init; }
    public required int BatchSize { get; init; }
    public required int PromptLength { get; init; }
    public required int Tokens { get; init; }
    public required int Repetitions { get; init; }

    /// <summary>Nodes of the computation table kept on the device, of <see cref="Nodes"/>.</summary>
    public int? ResidentNodes { get; init; }
    public required int Nodes { get; init; }

    /// <summary>Bytes of weights the model holds.</summary>
    public required long WeightBytes { get; init; }

    /// <summary>Weight bytes moved to the GPU per decode step.</summary>
    public long? StreamedBytesPerToken { get; init; }

    /// <summary>Prompt tokens (all sequences) per second of the prefill pass, median over repetitions.</summary>
    public required double PrefillTokensPerSecond { get; init; }

    /// <summary>Median over every decode step of every recorded repetition.</summary>
    public required double DecodeMillisecondsPerTokenMedian { get; init; }

    /// <summary>
    /// The fastest and slowest decode step. With <see cref="GreedyPipeline"/> a step is the interval
    /// between two tokens reaching the host, so these pair up around host delays: a token picked up late
    /// (a garbage collection, the host recording the next step) lengthens one interval and shortens the
    /// next, and the minimum can then lie below the GPU's own time for a step. The median and
    /// <see cref="DecodeMillisecondsPerTokenMean"/> are the rate.
    /// </summary>
    public required double DecodeMillisecondsPerTokenMin { get; init; }

    /// <inheritdoc cref="DecodeMillisecondsPerTokenMin"/>
    public required double DecodeMillisecondsPerTokenMax { get; init; }

    /// <summary>
    /// Decode time of every recorded repetition over its steps: the rate a generation of this length
    /// sees, unaffected by how pipelined intervals pair up (<see cref="DecodeMillisecondsPerTokenMin"/>).
    /// </summary>
    public double DecodeMillisecondsPerTokenMean { get; init; }

    /// <summary>Generated tokens (all sequences) per second at the median step time.</summary>
    public required double DecodeTokensPerSecond { get; init; }

    /// <summary>The PCIe floor of a decode step: streamed bytes / pinned host-to-device bandwidth.</summary>
    public double? BoundMillisecondsPerToken { get; init; }

    /// <summary>Bound / median step time (1 = as fast as the bus allows).</summary>
    public double? Efficiency { get; init; }

    /// <summary>Streamed bytes over the time the copies took, during decode.</summary>
    public double? PcieGBps { get; init; }

    public long? PeakGpuMemoryBytes { get; init; }

    /// <summary>Time to load the model for this point (plan, pin, bind).</summary>
    public required double LoadSeconds { get; init; }

    /// <summary>Rate the disk reader delivered streamed weights at (null with the host cache on): the floor becomes streamed bytes / this.</summary>
    public double? DiskGBps { get; init; }

    /// <summary>
    /// Decode ran pipelined: the device took each token's argmax and the next step was queued before the
    /// token reached the host (a fully resident model on a GPU; NNL_GREEDY_PIPELINE=0 turns it off). The
    /// step times are then the intervals between tokens.
    /// </summary>
    public bool GreedyPipeline { get; init; }

    /// <summary>Decode steps replayed as a CUDA graph over the whole point (warm-up included); null when graphs are off or not possible.</summary>
    public long? CudaGraphReplays { get; init; }

    /// <summary>Graph nodes whose arguments or grid changed between steps (each costs a driver call).</summary>
    public long? CudaGraphNodeUpdates { get; init; }

    /// <summary>Steps that fell back to launching kernels one by one (something other than a kernel ran inside the step).</summary>
    public long? CudaGraphFallbacks { get; init; }

    /// <summary>
    /// Host time of the point's last graph step from its begin to its end (recording the launches,
    /// updating and launching the segments): close to DecodeMillisecondsPerTokenMedian means the GPU
    /// waits for the host; well below it, the GPU is the limit.
    /// </summary>
    public double? CudaGraphHostMillisecondsPerStep { get; init; }

    /// <summary>
    /// With graph steps timed (NNL_GRAPH_TIMING=1): the median GPU time of a step's segments; next to
    /// DecodeMillisecondsPerTokenMedian, the rest is the GPU idle (the two fields below).
    /// </summary>
    public double? CudaGraphGpuMillisecondsPerStep { get; init; }

    /// <summary>Median time the GPU waited inside a step for the host to record the next segment (timed steps only).</summary>
    public double? CudaGraphIdleInStepMilliseconds { get; init; }

    /// <summary>
    /// Median time from one step's last kernel to the next step's first (timed steps only): the logits'
    /// download, sampling, the next batch and recording the first segment.
    /// </summary>
    public double? CudaGraphIdleBetweenStepsMilliseconds { get; init; }
}
