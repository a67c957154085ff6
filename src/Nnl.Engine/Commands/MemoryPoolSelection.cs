using Nnl.Engine.Cuda;
using Nnl.Engine.Memory;

namespace Nnl.Engine.Commands;

/// <summary>Which device pools a pool command acts on: the named devices, or every device.</summary>
internal static class MemoryPoolSelection
{
    /// <summary>
    /// The device pools a command with a -PinnedHost switch acts on: none when only the pinned host
    /// pool was asked for (PinnedHost without devices), else <see cref="Resolve"/>.
    /// </summary>
    public static IReadOnlyList<DeviceMemoryPool> ResolveBesideHost(int[]? devices, IReadOnlyList<DeviceMemoryPool>? given, bool pinnedHost) =>
        pinnedHost && devices is not { Length: > 0 } && given is null ? [] : Resolve(devices, given);

    public static IReadOnlyList<DeviceMemoryPool> Resolve(int[]? devices, IReadOnlyList<DeviceMemoryPool>? given)
    {
        if (given is not null) return devices is { Length: > 0 } ? given.Where(p => devices.Contains(p.Device)).ToList() : given;
        CudaDriver.EnsureInitialised();
        var ordinals = devices is { Length: > 0 } ? devices : Enumerable.Range(0, CudaDriver.DeviceCount).ToArray();
        return ordinals.Select(DeviceMemoryPool.ForDevice).ToList();
    }
}
