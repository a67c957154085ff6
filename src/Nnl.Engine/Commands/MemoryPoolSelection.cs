using Nnl.Engine.Cuda;
using Nnl.Engine.Memory;

namespace Nnl.Engine.Commands;

/// <summary>Which device pools a pool command acts on: the named devices, or every device.</summary>
internal static class MemoryPoolSelection
{
    public static IReadOnlyList<DeviceMemoryPool> Resolve(int[]? devices, IReadOnlyList<DeviceMemoryPool>? given)
    {
        if (given is not null) return devices is { Length: > 0 } ? given.Where(p => devices.Contains(p.Device)).ToList() : given;
        CudaDriver.EnsureInitialised();
        var ordinals = devices is { Length: > 0 } ? devices : Enumerable.Range(0, CudaDriver.DeviceCount).ToArray();
        return ordinals.Select(DeviceMemoryPool.ForDevice).ToList();
    }
}
