namespace Nnl.Engine.Generation;

/// <summary>
/// One prompt's generation. The offload figures (issue 6) are null on the CPU: streamed bytes per
/// token, where the time went, the PCIe bound (streamed bytes / pinned host-to-device bandwidth)
/// and efficiency = bound / achieved time per token.
/// </summary>
public sealed record NnlGenerationResult
{
    public required int PromptIndex { get; init; }
    public required string Prompt { get; init; }
    public required string Text { get; init; }
    public required IReadOnlyList<int> TokenIds { get; init; }
    public required int PromptTokens { get; init; }
    public required int GeneratedTokens { get; init; }
    public required StopReason StopReason { get; init; }
    public required double TimeToFirstTokenMilliseconds { get; init; }

    /// <summary>Decode rate: tokens after the first over the time after the first (all tokens over the total when only one).</summary>
    public required double TokensPerSecond { get; init; }

    public required double TotalMilliseconds { get; init; }
    public required string Device { get; init; }
    public int? Seed { get; init; }

    public long? StreamedBytesPerToken { get; init; }
    public double? TransferMilliseconds { get; init; }
    public double? ComputeMilliseconds { get; init; }
    public double? WeightWaitMilliseconds { get; init; }
    public double? PcieGBps { get; init; }
    public double? BoundMillisecondsPerToken { get; init; }
    public double? MillisecondsPerToken { get; init; }
    public double? Efficiency { get; init; }
    public long? PeakGpuMemoryBytes { get; init; }
    public double? DiskGBps { get; init; }
}

/// <summary>One generated token, written by Invoke-NnlGenerate -Stream the moment it exists.</summary>
public sealed record NnlGeneratedToken(int PromptIndex, int Index, int Id, string Text, double ElapsedMilliseconds)
{
    /// <summary>Weight bytes streamed for the forward pass that produced this token (null on the CPU).</summary>
    public long? StreamedBytes { get; init; }

    /// <summary>Time the compute stream waited for weights in that pass (null on the CPU).</summary>
    public double? WeightWaitMilliseconds { get; init; }
}
