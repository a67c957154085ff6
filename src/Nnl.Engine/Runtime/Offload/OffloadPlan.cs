using Nnl.Engine.Models;

namespace Nnl.Engine.Runtime.Offload;

/// <summary>Where a weight tensor lives while the model runs.</summary>
public enum WeightPlacement
{
    /// <summary>On the GPU for the model's lifetime.</summary>
    Resident,

    /// <summary>Copied to the GPU before each use (one DMA per node), released after.</summary>
    Streamed,

    /// <summary>
    /// Read by kernels straight from mapped pinned host memory: embedding tables, where a step
    /// reads a handful of rows, so copying the whole table would move thousands of times more bytes.
    /// </summary>
    HostMapped,
}

/// <summary>
/// The offload planner's decision for one model under one budget: which tensors stay on the GPU,
/// which stream per node, and the memory each part is planned to take.
/// </summary>
public sealed class OffloadPlan
{
    internal OffloadPlan(ComputationTable table, OffloadOptions options, long budgetBytes,
        IReadOnlyDictionary<string, WeightPlacement> placements, IReadOnlyList<NodeLayout?> streamed,
        long kvCacheBytes, long activationBytes)
    {
        Table = table;
        Options = options;
        BudgetBytes = budgetBytes;
        Placements = placements;
        StreamedLayouts = streamed;
        KvCacheBytes = kvCacheBytes;
        ActivationBytes = activationBytes;
    }

    public ComputationTable Table { get; }

    /// <summary>True when the budget could not hold the requested prefetch depth and the planner used a smaller one.</summary>
    public bool DepthLowered { get; internal set; }
    public OffloadOptions Options { get; }
    public long BudgetBytes { get; }

    /// <summary>Placement of every distinct weight tensor, by name.</summary>
    public IReadOnlyDictionary<string, WeightPlacement> Placements { get; }

    /// <summary>Per node: the layout of the tensors it streams, or null when it streams nothing.</summary>
    public IReadOnlyList<NodeLayout?> StreamedLayouts { get; }

    public long KvCacheBytes { get; }
    public long ActivationBytes { get; }

    public WeightPlacement PlacementOf(TensorInfo tensor) => Placements[tensor.Name];

    public IEnumerable<TensorInfo> TensorsPlaced(WeightPlacement placement) =>
        Table.DistinctWeights.Where(t => Placements[t.Name] == placement);

    public long ResidentWeightBytes => TensorsPlaced(WeightPlacement.Resident).Sum(t => t.ByteCount);
    public long HostMappedWeightBytes => TensorsPlaced(WeightPlacement.HostMapped).Sum(t => t.ByteCount);

    /// <summary>Weight bytes copied over PCIe for each forward pass.</summary>
    public long StreamedBytesPerPass => StreamedLayouts.Sum(l => l?.PayloadBytes ?? 0);

    /// <summary>Largest streamed node buffer: the pipeline holds PrefetchDepth + 1 of these at once.</summary>
    public long LargestStreamedNodeBytes => StreamedLayouts.Max(l => l?.Bytes ?? 0);

    public long StreamingBufferBytes => LargestStreamedNodeBytes == 0 ? 0 : (Options.PrefetchDepth + 1) * LargestStreamedNodeBytes;

    /// <summary>Nodes none of whose weights stream.</summary>
    public int ResidentNodeCount => StreamedLayouts.Count(l => l is null);

    public int StreamedNodeCount => StreamedLayouts.Count(l => l is not null);

    public bool IsFullyResident => StreamedNodeCount == 0;

    /// <summary>What the plan expects to use on the GPU at most.</summary>
    public long PlannedGpuBytes => ResidentWeightBytes + StreamingBufferBytes + KvCacheBytes + ActivationBytes;

    public override string ToString() =>
        $"{ResidentNodeCount} of {Table.Count} nodes resident ({ResidentWeightBytes / 1e9:F2} GB), {StreamedNodeCount} streamed " +
        $"({StreamedBytesPerPass / 1e9:F2} GB per pass, depth {Options.PrefetchDepth}), {HostMappedWeightBytes / 1e6:F0} MB read from host, " +
        $"KV cache {KvCacheBytes / 1e6:F0} MB, activations {ActivationBytes / 1e6:F0} MB, budget {BudgetBytes / 1e9:F2} GB";
}
