namespace Nnl.Engine.Generation;

/// <summary>
/// A model loaded by Import-NnlModel: what it is and where it runs. Holds the loaded engine
/// (internal); Remove-NnlModel releases it.
/// </summary>
public sealed record NnlModel
{
    public required string Name { get; init; }
    public required string Architecture { get; init; }
    public required long Parameters { get; init; }
    public required int Layers { get; init; }
    public required int HiddenSize { get; init; }
    public required int Heads { get; init; }
    public required int KvHeads { get; init; }
    public required int VocabSize { get; init; }
    public required int MaxPositions { get; init; }

    /// <summary>Element type of the weights in the files ("F32", "F16", "BF16", or "Mixed").</summary>
    public required string DType { get; init; }

    /// <summary>Bytes of the weights in the files.</summary>
    public required long Bytes { get; init; }

    /// <summary>Tokenizer kind, or null when the directory has none (generation then takes token ids).</summary>
    public string? Tokenizer { get; init; }

    public required string Device { get; init; }
    public required string Path { get; init; }

    /// <summary>GPU memory budget the model runs under (null on the CPU).</summary>
    public long? BudgetBytes { get; init; }

    /// <summary>Nodes of the computation table whose weights stay on the GPU, and those that stream.</summary>
    public int? ResidentNodes { get; init; }
    public int? StreamedNodes { get; init; }

    /// <summary>Weight bytes copied over PCIe per forward pass (per decoded token).</summary>
    public long? StreamedBytesPerToken { get; init; }

    /// <summary>Pinned host-to-device bandwidth the engine measured at import (decimal GB/s).</summary>
    public double? PinnedHostToDeviceGBps { get; init; }

    /// <summary>The PCIe floor of a decode step: streamed bytes / pinned bandwidth.</summary>
    public double? BoundMillisecondsPerToken { get; init; }

    /// <summary>Pinned host memory the model holds (host cache, staging buffers, embedding tables).</summary>
    public long? PinnedHostBytes { get; init; }

    /// <summary>Where streamed weights come from: "PinnedHostCache" or "Disk".</summary>
    public string? StreamingSource { get; init; }

    public int? PrefetchDepth { get; init; }

    internal LoadedModel Session { get; init; } = null!;

    /// <summary>False after Remove-NnlModel.</summary>
    public bool IsLoaded => Session is { IsDisposed: false };
}

internal static class NnlModelOffload
{
    /// <summary>Adds the offload plan's figures to a model record (unchanged on the CPU).</summary>
    public static NnlModel WithOffload(this NnlModel model, Runtime.Offload.OffloadRunner? runner)
    {
        if (runner is null) return model;
        var plan = runner.Plan;
        return model with
        {
            BudgetBytes = plan.BudgetBytes,
            ResidentNodes = plan.ResidentNodeCount,
            StreamedNodes = plan.StreamedNodeCount,
            StreamedBytesPerToken = plan.StreamedBytesPerPass,
            PinnedHostToDeviceGBps = runner.PinnedHostToDeviceGBps,
            BoundMillisecondsPerToken = plan.StreamedBytesPerPass / (runner.PinnedHostToDeviceGBps * 1e6),
            PinnedHostBytes = runner.PinnedHostBytes,
            StreamingSource = plan.IsFullyResident ? "None" : plan.Options.HostCache ? "PinnedHostCache" : "Disk",
            PrefetchDepth = plan.Options.PrefetchDepth,
        };
    }
}
