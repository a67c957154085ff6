using Nnl.Engine.Memory;

namespace Nnl.Engine.Commands;

/// <summary>
/// Get-NnlMemoryPool / `nnl pool`: one <see cref="NnlMemoryPoolStatistics"/> per device pool (and
/// the pinned host pool with <see cref="PinnedHost"/>); <see cref="Detailed"/> adds one
/// <see cref="NnlMemoryBlock"/> per block, <see cref="Timeline"/> the recorded <see cref="NnlMemoryEvent"/>s.
/// </summary>
public sealed class GetMemoryPoolCommand : INnlCommand
{
    public int[]? Device { get; init; }
    public bool Detailed { get; init; }
    public bool Timeline { get; init; }
    public bool PinnedHost { get; init; }

    /// <summary>Pools to report instead of the process's device pools (tests, replays).</summary>
    internal IReadOnlyList<DeviceMemoryPool>? Pools { get; init; }
    internal PinnedHostPool? HostPool { get; init; }

    public void Execute(ICommandSink sink)
    {
        var pools = MemoryPoolSelection.ResolveBesideHost(Device, Pools, PinnedHost);
        foreach (var pool in pools)
        {
            sink.Cancellation.ThrowIfCancellationRequested();
            if (!Detailed && !Timeline) sink.WriteRecord(pool.Statistics());
            if (Detailed) foreach (var b in pool.Blocks()) sink.WriteRecord(b);
            if (Timeline) foreach (var e in pool.Timeline.Snapshot()) sink.WriteRecord(e);
        }
        if (!PinnedHost) return;
        var host = HostPool ?? PinnedHostPool.Shared;
        if (!Detailed && !Timeline) sink.WriteRecord(host.Statistics());
        if (Detailed) foreach (var b in host.Blocks()) sink.WriteRecord(b);
        if (Timeline) foreach (var e in host.Timeline.Snapshot()) sink.WriteRecord(e);
    }
}
