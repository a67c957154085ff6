using Nnl.Engine.Cuda;

namespace Nnl.Engine.Memory;

/// <summary>Where pinned host memory comes from (cuMemHostAlloc), so the pool's policy is testable without a GPU.</summary>
public interface IPinnedHostMemory
{
    long DriverCalls { get; }
    IntPtr Allocate(long bytes);
    void Free(IntPtr pointer);
}

/// <summary>Pinned, portable, mapped host memory from the CUDA driver.</summary>
public sealed class CudaPinnedHostMemory(CudaContext context) : IPinnedHostMemory
{
    private long _calls;
    public long DriverCalls => Interlocked.Read(ref _calls);

    public IntPtr Allocate(long bytes)
    {
        Interlocked.Increment(ref _calls);
        context.MakeCurrent();
        CudaCheck.ThrowIfFailed(CudaApi.cuMemHostAlloc(out IntPtr p, (nuint)bytes, CudaFlags.HostAllocPortable | CudaFlags.HostAllocDeviceMap));
        return p;
    }

    public void Free(IntPtr pointer)
    {
        Interlocked.Increment(ref _calls);
        context.MakeCurrent();
        CudaCheck.ThrowIfFailed(CudaApi.cuMemFreeHost(pointer));
    }
}

/// <summary>A pinned host buffer from a <see cref="PinnedHostPool"/>; Dispose returns it to the cache.</summary>
public sealed class PinnedAllocation : IDisposable
{
    private int _freed;

    internal PinnedAllocation(PinnedHostPool pool, long id, IntPtr pointer, long bytes, long blockBytes, string owner)
    {
        Pool = pool;
        Id = id;
        HostPointer = pointer;
        Bytes = bytes;
        BlockBytes = blockBytes;
        Owner = owner;
    }

    public PinnedHostPool Pool { get; }
    public long Id { get; }
    public IntPtr HostPointer { get; }
    public long Bytes { get; }
    public long BlockBytes { get; }
    public string Owner { get; }
    public bool IsFreed => Volatile.Read(ref _freed) != 0;
    internal bool MarkFreed() => Interlocked.Exchange(ref _freed, 1) == 0;
    public void Dispose() => Pool.Free(this);
}

/// <summary>
/// A caching pool of pinned host buffers (pinning costs milliseconds per GB, so buffers are kept
/// and reused). Sizes round up to the granularity only — a buffer wastes less than one granule —
/// and a cached buffer is reused for a request of the same rounded size. PyTorch's pinned
/// allocator rounds to a power of two instead, so a 1.1 GB buffer takes 2 GB there. Past the budget,
/// cached buffers are unpinned, least recently freed first. Same statistics as the device pool.
/// </summary>
public sealed class PinnedHostPool : IDisposable
{
    private static PinnedHostPool? _shared;
    private readonly object _gate = new();
    private readonly IPinnedHostMemory _memory;
    private readonly Dictionary<long, Stack<IntPtr>> _cached = new();
    private readonly LinkedList<(IntPtr Pointer, long Bytes)> _lru = new();
    private readonly Dictionary<IntPtr, PinnedAllocation> _live = new();
    private readonly long _callsAtStart;
    private long _budget, _reserved, _allocated, _requested, _peakAllocated, _peakReserved, _peakRequested;
    private long _nextId, _allocations, _frees, _hits, _outOfMemory;

    public PinnedHostPool(IPinnedHostMemory memory, long budgetBytes, long granularityBytes = 2L << 20)
    {
        if (budgetBytes <= 0) throw new NnlArgumentException(nameof(budgetBytes), $"a pool budget must be positive, not {budgetBytes}");
        if (granularityBytes <= 0) throw new NnlArgumentException(nameof(granularityBytes), $"the granularity must be positive, not {granularityBytes}");
        _memory = memory;
        _budget = budgetBytes;
        GranularityBytes = granularityBytes;
        _callsAtStart = memory.DriverCalls;
    }

    /// <summary>The process's pinned pool (portable across devices), with half the machine's memory as budget.</summary>
    public static PinnedHostPool Shared
    {
        get
        {
            lock (typeof(PinnedHostPool))
                return _shared ??= new PinnedHostPool(new CudaPinnedHostMemory(CudaContext.ForDevice(0)), GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 2);
        }
    }

    /// <summary>The shared pool if something has created it, without creating it.</summary>
    public static PinnedHostPool? SharedIfCreated { get { lock (typeof(PinnedHostPool)) return _shared; } }

    public long GranularityBytes { get; }
    public MemoryTimeline Timeline { get; } = new();

    public long BudgetBytes
    {
        get { lock (_gate) return _budget; }
        set
        {
            lock (_gate)
            {
                if (value <= 0) throw new NnlArgumentException(nameof(BudgetBytes), $"a pool budget must be positive, not {value}");
                ReleaseCached(_reserved - value);
                _budget = value;
            }
        }
    }

    public PinnedAllocation Allocate(long bytes, string owner)
    {
        if (bytes <= 0) throw new NnlArgumentException(nameof(bytes), $"an allocation needs a positive size, not {bytes} (owner '{owner}')");
        lock (_gate)
        {
            long block = (bytes + GranularityBytes - 1) / GranularityBytes * GranularityBytes;
            IntPtr pointer;
            if (_cached.TryGetValue(block, out var stack) && stack.Count > 0)
            {
                pointer = stack.Pop();
                _lru.Remove((pointer, block));
                _hits++;
            }
            else
            {
                if (_reserved + block > _budget) ReleaseCached(_reserved + block - _budget);
                if (_reserved + block > _budget)
                {
                    _outOfMemory++;
                    Timeline.Record(-1, "OutOfMemory", 0, 0, bytes, owner, -1);
                    throw new NnlOutOfMemoryException("pinned host pool", bytes, owner, _budget, _reserved, _allocated, LargestCached());
                }
                pointer = _memory.Allocate(block);
                _reserved += block;
            }
            var a = new PinnedAllocation(this, ++_nextId, pointer, bytes, block, owner);
            _live[pointer] = a;
            _allocations++;
            _allocated += block;
            _requested += bytes;
            _peakAllocated = Math.Max(_peakAllocated, _allocated);
            _peakRequested = Math.Max(_peakRequested, _requested);
            _peakReserved = Math.Max(_peakReserved, _reserved);
            Timeline.Record(-1, "Allocate", (ulong)pointer, 0, block, owner, a.Id);
            return a;
        }
    }

    public void Free(PinnedAllocation allocation)
    {
        if (allocation.Pool != this) throw new NnlArgumentException(nameof(allocation), $"'{allocation.Owner}' belongs to another pool");
        lock (_gate)
        {
            if (!allocation.MarkFreed()) return;
            _live.Remove(allocation.HostPointer);
            if (!_cached.TryGetValue(allocation.BlockBytes, out var stack)) _cached[allocation.BlockBytes] = stack = new Stack<IntPtr>();
            stack.Push(allocation.HostPointer);
            _lru.AddLast((allocation.HostPointer, allocation.BlockBytes));
            _frees++;
            _allocated -= allocation.BlockBytes;
            _requested -= allocation.Bytes;
            Timeline.Record(-1, "Free", (ulong)allocation.HostPointer, 0, allocation.BlockBytes, allocation.Owner, allocation.Id);
        }
    }

    /// <summary>Unpins every cached buffer.</summary>
    public void Trim()
    {
        lock (_gate) ReleaseCached(long.MaxValue);
    }

    public void ResetPeaks()
    {
        lock (_gate)
        {
            _peakAllocated = _allocated;
            _peakRequested = _requested;
            _peakReserved = _reserved;
        }
    }

    public NnlMemoryPoolStatistics Statistics()
    {
        lock (_gate)
        {
            long free = _reserved - _allocated;
            long largest = LargestCached();
            return new NnlMemoryPoolStatistics(-1, "PinnedHost", GranularityBytes, _budget, _reserved, _allocated, _requested, free, largest,
                _peakReserved == 0 ? 0 : 1 - (double)_peakAllocated / _peakReserved,
                free <= 0 ? 0 : 1 - (double)largest / free,
                _live.Count, _peakAllocated, _peakReserved, _peakRequested, _allocations, _frees,
                _memory.DriverCalls - _callsAtStart, _hits, 0, _outOfMemory);
        }
    }

    public IReadOnlyList<NnlMemoryBlock> Blocks()
    {
        lock (_gate)
        {
            return _live.Values.Select(a => new NnlMemoryBlock(-1, (ulong)a.HostPointer, 0, a.BlockBytes, "Allocated", a.Owner, a.Id))
                .Concat(_lru.Select(c => new NnlMemoryBlock(-1, (ulong)c.Pointer, 0, c.Bytes, "Cached", "", -1)))
                .OrderBy(b => b.Address).ToList();
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            ReleaseCached(long.MaxValue);
            foreach (var p in _live.Keys) _memory.Free(p);
            _live.Clear();
            _reserved = 0;
        }
    }

    private long LargestCached() => _lru.Count == 0 ? 0 : _lru.Max(c => c.Bytes);

    private void ReleaseCached(long bytes)
    {
        while (bytes > 0 && _lru.First is { } oldest)
        {
            var (pointer, size) = oldest.Value;
            _lru.RemoveFirst();
            var stack = _cached[size];
            // The stack holds the same pointers; rebuild it without this one (rare path: budget pressure or trim).
            _cached[size] = new Stack<IntPtr>(stack.Where(p => p != pointer).Reverse());
            _memory.Free(pointer);
            _reserved -= size;
            bytes -= size;
        }
    }
}
