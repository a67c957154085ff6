using Nnl.Engine.Cuda;

namespace Nnl.Engine.Transfer;

/// <summary>One combination of a sweep: every size is measured for each configuration.</summary>
public sealed record TransferConfig(TransferDirection Direction, HostMemoryKind? HostMemory, TransferMechanism Mechanism, bool? PeerAccess = null)
{
    public bool TouchesHost => Direction is TransferDirection.HostToDevice or TransferDirection.DeviceToHost or TransferDirection.Bidirectional;

    /// <summary>Device memory a point of <paramref name="bytes"/> needs on the measured GPU (a peer copy needs as much again on the peer).</summary>
    public long DeviceBytes(long bytes) => Direction is TransferDirection.DeviceToDevice or TransferDirection.Bidirectional ? 2 * bytes : bytes;

    public override string ToString() =>
        string.Join(" ", new[] { Direction.ToString(), HostMemory?.ToString(), Mechanism.ToString(),
            PeerAccess is { } a ? (a ? "peer access on" : "peer access off") : null }.Where(s => s is not null));

    /// <summary>
    /// Every combination of the requested directions, host memory kinds and mechanisms that can run.
    /// Kernel copies need a device address for host memory, so Pageable is skipped for them (with a
    /// note); peer-to-peer runs with peer access off and on, and Kernel copies only with it on.
    /// </summary>
    public static IReadOnlyList<TransferConfig> Expand(
        IReadOnlyList<TransferDirection> directions, IReadOnlyList<HostMemoryKind> memories, IReadOnlyList<TransferMechanism> mechanisms,
        Action<string>? note = null)
    {
        var configs = new List<TransferConfig>();
        foreach (var direction in directions.Distinct())
        foreach (var mechanism in mechanisms.Distinct())
        {
            switch (direction)
            {
                case TransferDirection.HostToDevice or TransferDirection.DeviceToHost or TransferDirection.Bidirectional:
                    foreach (var memory in memories.Distinct())
                    {
                        if (mechanism == TransferMechanism.Kernel && memory == HostMemoryKind.Pageable)
                        {
                            note?.Invoke($"{direction} Pageable Kernel skipped: a kernel reaches host memory only through a page-locked mapping");
                            continue;
                        }
                        configs.Add(new TransferConfig(direction, memory, mechanism));
                    }
                    break;
                case TransferDirection.DeviceToDevice:
                    configs.Add(new TransferConfig(direction, null, mechanism));
                    break;
                case TransferDirection.PeerToPeer:
                    if (mechanism == TransferMechanism.CopyEngine) configs.Add(new TransferConfig(direction, null, mechanism, PeerAccess: false));
                    configs.Add(new TransferConfig(direction, null, mechanism, PeerAccess: true));
                    break;
            }
        }
        if (configs.Count == 0)
            throw new NnlArgumentException("Mechanism", "Kernel copies need page-locked host memory (Pinned, WriteCombined, Registered or Mapped): Pageable memory has no device address");
        return configs;
    }
}
