using Nnl.Engine.Memory;
using Nnl.Engine.Runtime.Cuda;

namespace Nnl.Engine.Runtime.Offload;

/// <summary>
/// The CUDA backend's allocations (activations, KV cache, scratch, resident weights) taken from the
/// device's memory pool, so they count against the budget and show in its statistics and timeline.
/// </summary>
public sealed class PoolDeviceAllocator : IDeviceAllocator
{
    private readonly Dictionary<ulong, PoolAllocation> _live = new();

    public PoolDeviceAllocator(DeviceMemoryPool pool) { Pool = pool; }

    public DeviceMemoryPool Pool { get; }

    public DeviceAllocation Allocate(long bytes, string purpose)
    {
        var a = Pool.Allocate(bytes, purpose);
        lock (_live) _live[a.DevicePointer] = a;
        return new DeviceAllocation(a.DevicePointer, bytes);
    }

    public void Free(DeviceAllocation allocation)
    {
        PoolAllocation? a;
        lock (_live) _live.Remove(allocation.Pointer, out a);
        if (a is null) throw new InvalidOperationException($"0x{allocation.Pointer:x} was not allocated here");
        Pool.Free(a);
    }

    public void Dispose()
    {
        List<PoolAllocation> left;
        lock (_live)
        {
            left = _live.Values.ToList();
            _live.Clear();
        }
        foreach (var a in left) Pool.Free(a);
    }
}
