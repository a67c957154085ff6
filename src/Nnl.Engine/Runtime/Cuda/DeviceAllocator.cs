using Nnl.Engine.Cuda;

namespace Nnl.Engine.Runtime.Cuda;

/// <summary>A block of device memory handed out by an <see cref="IDeviceAllocator"/>.</summary>
public sealed class DeviceAllocation
{
    public DeviceAllocation(ulong pointer, long bytes)
    {
        Pointer = pointer;
        Bytes = bytes;
    }

    public ulong Pointer { get; }
    public long Bytes { get; }
}

/// <summary>
/// Where the CUDA backend gets activations, caches, weights and scratch memory. Blocks are used and
/// freed in the order of the backend's one compute stream, so a freed block may be handed out again
/// at once. The engine's memory pool implements this; <see cref="CachingDeviceAllocator"/> is the
/// stand-alone default.
/// </summary>
public interface IDeviceAllocator : IDisposable
{
    DeviceAllocation Allocate(long bytes, string purpose);
    void Free(DeviceAllocation allocation);
}

/// <summary>
/// cuMemAlloc with a free list per rounded size, so the allocations a forward pass repeats every
/// step are reused instead of going through cuMemAlloc/cuMemFree (which can synchronise the device).
/// </summary>
public sealed class CachingDeviceAllocator : IDeviceAllocator
{
    private readonly Dictionary<long, Stack<DeviceBuffer>> _free = new();
    private readonly Dictionary<ulong, DeviceBuffer> _live = new();

    public CachingDeviceAllocator(CudaContext context) { Context = context; }

    public CudaContext Context { get; }

    /// <summary>Bytes obtained from the driver and not yet returned to it.</summary>
    public long ReservedBytes { get; private set; }

    public DeviceAllocation Allocate(long bytes, string purpose)
    {
        if (bytes <= 0) throw new NnlArgumentException(nameof(bytes), $"{purpose}: a device allocation needs a positive size, not {bytes}");
        long size = RoundUp(bytes);
        lock (_free)
        {
            DeviceBuffer? buffer = null;
            if (_free.TryGetValue(size, out var stack) && stack.Count > 0) buffer = stack.Pop();
            if (buffer is null)
            {
                buffer = new DeviceBuffer(Context, size);
                ReservedBytes += size;
            }
            _live[buffer.Pointer] = buffer;
            return new DeviceAllocation(buffer.Pointer, size);
        }
    }

    public void Free(DeviceAllocation allocation)
    {
        lock (_free)
        {
            if (!_live.Remove(allocation.Pointer, out var buffer))
                throw new InvalidOperationException($"Device address 0x{allocation.Pointer:x} was not allocated here or is already free.");
            if (!_free.TryGetValue(buffer.Bytes, out var stack)) _free[buffer.Bytes] = stack = new Stack<DeviceBuffer>();
            stack.Push(buffer);
        }
    }

    /// <summary>Returns the cached free blocks to the driver.</summary>
    public void Trim()
    {
        lock (_free)
        {
            foreach (var stack in _free.Values)
                while (stack.Count > 0)
                {
                    var b = stack.Pop();
                    ReservedBytes -= b.Bytes;
                    b.Dispose();
                }
            _free.Clear();
        }
    }

    /// <summary>256-byte granules up to 1 MiB, then steps of an eighth of the power of two (≤ 12.5% waste).</summary>
    internal static long RoundUp(long bytes)
    {
        if (bytes <= 1 << 20) return (bytes + 255) & ~255L;
        long p = 1L << (63 - System.Numerics.BitOperations.LeadingZeroCount((ulong)bytes));
        long step = p / 8;
        return (bytes + step - 1) / step * step;
    }

    public void Dispose()
    {
        lock (_free)
        {
            Trim();
            foreach (var b in _live.Values) b.Dispose();
            _live.Clear();
            ReservedBytes = 0;
        }
    }
}
