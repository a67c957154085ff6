using Nnl.Engine.Memory;

namespace Nnl.Engine.Commands;

/// <summary>Clear-NnlMemoryPool / `nnl pool --clear`: returns cached memory to the driver; live allocations stay.</summary>
public sealed class ClearMemoryPoolCommand : INnlCommand
{
    public int[]? Device { get; init; }
    public bool PinnedHost { get; init; }
    /// <summary>Write each pool's statistics after clearing.</summary>
    public bool PassThru { get; init; }
    internal IReadOnlyList<DeviceMemoryPool>? Pools { get; init; }
    internal PinnedHostPool? HostPool { get; init; }

    public void Execute(ICommandSink sink)
    {
        foreach (var pool in MemoryPoolSelection.ResolveBesideHost(Device, Pools, PinnedHost))
        {
            long before = pool.Statistics().ReservedBytes;
            pool.Trim();
            var after = pool.Statistics();
            sink.WriteVerbose($"cuda:{pool.Device}: returned {before - after.ReservedBytes} bytes to the driver; {after.ReservedBytes} stay reserved for {after.ActiveBlocks} live blocks");
            if (PassThru) sink.WriteRecord(after);
        }
        if (PinnedHost)
        {
            var host = HostPool ?? PinnedHostPool.SharedIfCreated;
            host?.Trim();
            if (PassThru && host is not null) sink.WriteRecord(host.Statistics());
        }
    }
}
