using Nnl.Engine.Memory;

namespace Nnl.Engine.Commands;

/// <summary>Reset-NnlMemoryPoolStatistics / `nnl pool --reset`: peaks start again from the current values.</summary>
public sealed class ResetMemoryPoolStatisticsCommand : INnlCommand
{
    public int[]? Device { get; init; }
    public bool PinnedHost { get; init; }
    public bool PassThru { get; init; }
    internal IReadOnlyList<DeviceMemoryPool>? Pools { get; init; }
    internal PinnedHostPool? HostPool { get; init; }

    public void Execute(ICommandSink sink)
    {
        foreach (var pool in MemoryPoolSelection.ResolveBesideHost(Device, Pools, PinnedHost))
        {
            pool.ResetPeaks();
            if (PassThru) sink.WriteRecord(pool.Statistics());
        }
        if (PinnedHost)
        {
            var host = HostPool ?? PinnedHostPool.SharedIfCreated;
            host?.ResetPeaks();
            if (PassThru && host is not null) sink.WriteRecord(host.Statistics());
        }
    }
}
