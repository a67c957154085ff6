namespace Nnl.Engine.Runtime;

/// <summary>
/// Runs forward passes of one loaded model on one device. The generation loop talks only to this:
/// the CPU engine is a <see cref="ComputationTableRunner"/>; the GPU offload scheduler is another
/// implementation over the same <see cref="ComputationTable"/>.
/// </summary>
public interface IModelRunner : IDisposable
{
    ComputationTable Table { get; }

    /// <summary>"Cpu", "Cuda:0", ...</summary>
    string Device { get; }

    /// <summary>A KV cache for <paramref name="slots"/> sequences of up to <paramref name="capacity"/> tokens.</summary>
    KvCache CreateKvCache(int slots, int capacity);

    /// <summary>One forward pass; logits [batch.OutputRows.Length, vocab] row-major. Honours cancellation between nodes.</summary>
    float[] Forward(TokenBatch batch, KvCache cache, CancellationToken cancellation = default);

    /// <summary>Offload statistics gathered since the last call (null where the runner streams nothing, as on the CPU).</summary>
    NnlOffloadStatistics? TakeStatistics();

    /// <summary>
    /// The generation has ended: drop work fetched ahead for a next pass (an offloading runner
    /// prefetches the next token's first nodes), so the GPU memory in use is what it was before.
    /// </summary>
    void Quiesce() { }

    /// <summary>
    /// A greedy decode pipeline over <paramref name="cache"/> (<see cref="IGreedyDecodePipeline"/>: the
    /// device picks the tokens and the next step is queued before they reach the host), or null where
    /// this runner has none; callers then loop over <see cref="Forward"/>. Dispose it before the cache.
    /// </summary>
    IGreedyDecodePipeline? CreateGreedyPipeline(KvCache cache) => null;
}

/// <summary>
/// What an offloading runner measured over some forward passes (summed). The generation loop
/// turns these into per-token figures, the PCIe bound and the efficiency on the result.
/// </summary>
public sealed record NnlOffloadStatistics(
    long StreamedBytes,
    double TransferMilliseconds,
    double ComputeMilliseconds,
    double WeightWaitMilliseconds,
    long PeakGpuMemoryBytes,
    double PinnedHostToDeviceGBps,
    long DiskBytes = 0,
    double DiskMilliseconds = 0)
{
    /// <summary>a + b where either may be missing (a runner that streams nothing reports null).</summary>
    public static NnlOffloadStatistics? Sum(NnlOffloadStatistics? a, NnlOffloadStatistics? b) =>
        a is null ? b : b is null ? a : a.Add(b);

    /// <summary>Sums two measurements (peaks take the maximum; the bandwidth is the engine's own constant).</summary>
    public NnlOffloadStatistics Add(NnlOffloadStatistics other) => new(
        StreamedBytes + other.StreamedBytes,
        TransferMilliseconds + other.TransferMilliseconds,
        ComputeMilliseconds + other.ComputeMilliseconds,
        WeightWaitMilliseconds + other.WeightWaitMilliseconds,
        Math.Max(PeakGpuMemoryBytes, other.PeakGpuMemoryBytes),
        other.PinnedHostToDeviceGBps > 0 ? other.PinnedHostToDeviceGBps : PinnedHostToDeviceGBps,
        DiskBytes + other.DiskBytes,
        DiskMilliseconds + other.DiskMilliseconds);
}
