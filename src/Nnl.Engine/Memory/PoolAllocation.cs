namespace Nnl.Engine.Memory;

/// <summary>
/// A block handed out by a <see cref="DeviceMemoryPool"/>. Dispose returns it to the pool (once;
/// further calls do nothing). A relocatable allocation may move when the pool compacts segments:
/// read <see cref="DevicePointer"/> each time work is queued, never cache it across allocations.
/// </summary>
public sealed class PoolAllocation : IDisposable
{
    private ulong _pointer;
    private int _freed;

    internal PoolAllocation(DeviceMemoryPool pool, long id, ulong pointer, long bytes, long blockBytes, string owner, bool relocatable)
    {
        Pool = pool;
        Id = id;
        _pointer = pointer;
        Bytes = bytes;
        BlockBytes = blockBytes;
        Owner = owner;
        IsRelocatable = relocatable;
    }

    public DeviceMemoryPool Pool { get; }
    public long Id { get; }

    /// <summary>What the caller asked for.</summary>
    public long Bytes { get; }

    /// <summary>What the pool set aside (rounded to 512 bytes for small blocks, to a granule for large ones).</summary>
    public long BlockBytes { get; }

    public string Owner { get; }
    public bool IsRelocatable { get; }
    public ulong DevicePointer => Volatile.Read(ref _pointer);
    public bool IsFreed => Volatile.Read(ref _freed) != 0;

    internal void MoveTo(ulong pointer) => Volatile.Write(ref _pointer, pointer);
    internal bool MarkFreed() => Interlocked.Exchange(ref _freed, 1) == 0;

    public void Dispose() => Pool.Free(this);

    public override string ToString() => $"{Owner}: {Bytes} bytes at 0x{DevicePointer:x}";
}
