namespace Nnl.Engine.Memory;

/// <summary>
/// The large-block layer of a device pool: hands out page-aligned blocks (a page is the device's
/// granularity) and decides where physical memory comes from. Two implementations: virtual memory
/// (stitching physical chunks into contiguous ranges) and segments (best fit with compaction).
/// Callers hold the pool's lock; implementations are not thread-safe on their own.
/// </summary>
internal interface IBlockSpace : IDisposable
{
    long PageBytes { get; }

    /// <summary>Memory taken from the driver (never above the budget passed to <see cref="Allocate"/>).</summary>
    long ReservedBytes { get; }

    /// <summary>The largest block this layer can hand out without taking more memory from the driver.</summary>
    long LargestFreeBytes { get; }

    /// <summary>The lowest device address in use, for offsets in timelines and pictures.</summary>
    ulong LowestAddress { get; }

    /// <summary>
    /// A block of <paramref name="pages"/> pages, or 0 when the budget cannot hold it. A failed call
    /// leaves every live block where it was (it may have returned cached memory to the driver).
    /// </summary>
    ulong Allocate(long pages, long budgetBytes, out AllocationPath path);

    void Free(ulong address);

    /// <summary>Returns cached memory to the driver until at most <paramref name="keepBytes"/> of it stays reserved beyond live blocks.</summary>
    void Trim(long keepBytes = 0);

    /// <summary>Every block: (address, bytes, state) with state Allocated, Cached or Segment-free.</summary>
    IEnumerable<(ulong Address, long Bytes, string State)> Blocks();
}

/// <summary>How a request was served, for the hit and defragmentation counters.</summary>
internal enum AllocationPath
{
    /// <summary>From cached memory: no driver call.</summary>
    Hit,
    /// <summary>New memory from the driver.</summary>
    Grown,
    /// <summary>Cached memory elsewhere was remapped (virtual memory) or live blocks were moved (segments).</summary>
    Defragmented,
}
