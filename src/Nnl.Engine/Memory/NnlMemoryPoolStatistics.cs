namespace Nnl.Engine.Memory;

/// <summary>
/// A snapshot of one pool (Get-NnlMemoryPool, `nnl pool`). Reserved is memory taken from the
/// driver (physical chunks or segments); allocated is what live allocations hold, rounded to the
/// pool's block sizes; requested is what callers asked for.
/// </summary>
/// <param name="Device">Device ordinal; -1 for the pinned host pool.</param>
/// <param name="Backing">VirtualMemory (cuMemCreate/cuMemMap), CuMemAlloc (segments), or PinnedHost.</param>
/// <param name="UtilisationFragmentation">GMLake's form: 1 − peak allocated / peak reserved.</param>
/// <param name="ExternalFragmentation">RMM's form: 1 − largest free block / free bytes (0 when nothing is free).</param>
public sealed record NnlMemoryPoolStatistics(
    int Device,
    string Backing,
    long GranularityBytes,
    long BudgetBytes,
    long ReservedBytes,
    long AllocatedBytes,
    long RequestedBytes,
    long FreeBytes,
    long LargestFreeBlockBytes,
    double UtilisationFragmentation,
    double ExternalFragmentation,
    int ActiveBlocks,
    long PeakAllocatedBytes,
    long PeakReservedBytes,
    long PeakRequestedBytes,
    long AllocationCount,
    long FreeCount,
    long DriverCalls,
    long CacheHits,
    long Defragmentations,
    long OutOfMemoryCount)
{
    public double BudgetGiB => BudgetBytes / (double)(1L << 30);
    public double ReservedGiB => ReservedBytes / (double)(1L << 30);
    public double AllocatedGiB => AllocatedBytes / (double)(1L << 30);
    public double PeakReservedGiB => PeakReservedBytes / (double)(1L << 30);
}

/// <summary>
/// One block of a pool (Get-NnlMemoryPool -Detailed): a live allocation, a cached free block
/// (mapped, ready for reuse), a free block inside a small-block page, or a whole segment.
/// </summary>
public sealed record NnlMemoryBlock(
    int Device,
    ulong Address,
    long Offset,
    long Bytes,
    string State,
    string Owner,
    long AllocationId);

/// <summary>One entry of a pool's timeline (Get-NnlMemoryPool -Timeline, Export-NnlMemoryTimeline).</summary>
/// <param name="Operation">Allocate, Free, Relocate (compaction moved a block), OutOfMemory, Trim or ResetPeaks.</param>
/// <param name="Offset">Address relative to the lowest address the pool uses.</param>
public sealed record NnlMemoryEvent(
    int Device,
    long Sequence,
    double TimeMilliseconds,
    string Operation,
    ulong Address,
    long Offset,
    long Bytes,
    string Owner,
    long AllocationId);
