using Nnl.Engine.Cuda;

namespace Nnl.Engine.Memory;

/// <summary>
/// The GPU memory pool: one per device (<see cref="ForDevice"/>), or built over any
/// <see cref="IPhysicalMemory"/> (tests, replays). Requests of up to half a granule are
/// sub-allocated from shared pages; larger ones get granule-aligned blocks from the virtual-memory
/// layer (<see cref="VirtualSpace"/>) or, without virtual memory, the segment layer
/// (<see cref="SegmentSpace"/>). Reserved memory never exceeds <see cref="BudgetBytes"/>; a request
/// that cannot fit raises <see cref="NnlOutOfMemoryException"/> and leaves the pool usable.
/// Thread-safe: one lock guards the policy (the pipeline allocates on the host thread while a
/// reader thread frees).
/// </summary>
public sealed class DeviceMemoryPool : IDisposable
{
    private static readonly Dictionary<int, DeviceMemoryPool> Pools = new();

    private readonly object _gate = new();
    private readonly IPhysicalMemory _memory;
    private readonly IBlockSpace _space;
    private readonly SmallBlocks _small;
    private readonly Dictionary<ulong, PoolAllocation> _live = new();
    private readonly long _driverCallsAtStart;
    private long _budget;
    private long _nextId;
    private long _allocated, _requested, _peakAllocated, _peakReserved, _peakRequested;
    private long _allocations, _frees, _hits, _defragmentations, _outOfMemory;
    private bool _disposed;

    public DeviceMemoryPool(IPhysicalMemory memory, long budgetBytes, MemoryPoolOptions? options = null)
    {
        options ??= new MemoryPoolOptions();
        if (budgetBytes <= 0) throw new NnlArgumentException(nameof(budgetBytes), $"a pool budget must be positive, not {budgetBytes}");
        _memory = memory;
        _budget = budgetBytes;
        _space = memory.SupportsVirtualMemory
            ? new VirtualSpace(memory, options.RegionBytes)
            : new SegmentSpace(memory, CanRelocate, Relocated);
        _small = new SmallBlocks(_space.PageBytes);
        Timeline = new MemoryTimeline(options.TimelineCapacity);
        _driverCallsAtStart = memory.DriverCalls;
    }

    /// <summary>
    /// The process's pool for device <paramref name="ordinal"/>, created on first use with the
    /// device's total memory as budget; virtual memory where the device has it, unless the
    /// environment variable NNL_POOL_BACKING is "cumemalloc".
    /// </summary>
    public static DeviceMemoryPool ForDevice(int ordinal)
    {
        lock (Pools)
        {
            if (Pools.TryGetValue(ordinal, out var pool)) return pool;
            var context = CudaContext.ForDevice(ordinal);
            bool vmm = !string.Equals(Environment.GetEnvironmentVariable("NNL_POOL_BACKING"), "cumemalloc", StringComparison.OrdinalIgnoreCase);
            pool = new DeviceMemoryPool(new CudaPhysicalMemory(context, vmm), context.MemoryInfo().TotalBytes);
            Pools[ordinal] = pool;
            return pool;
        }
    }

    /// <summary>The device pools this process has created so far.</summary>
    public static IReadOnlyList<DeviceMemoryPool> Existing { get { lock (Pools) return Pools.Values.OrderBy(p => p.Device).ToArray(); } }

    public int Device => _memory.Device;
    public string Backing => _memory.SupportsVirtualMemory ? "VirtualMemory" : "CuMemAlloc";
    public long GranularityBytes => _space.PageBytes;
    public MemoryTimeline Timeline { get; }

    /// <summary>
    /// The most memory the pool takes from the driver. Lowering it returns cached memory first;
    /// a budget below what live allocations hold is refused.
    /// </summary>
    public long BudgetBytes
    {
        get { lock (_gate) return _budget; }
        set
        {
            lock (_gate)
            {
                if (value <= 0) throw new NnlArgumentException(nameof(BudgetBytes), $"a pool budget must be positive, not {value}");
                if (_space.ReservedBytes > value)
                {
                    foreach (ulong page in _small.TakeEmptyPages()) _space.Free(page);
                    _space.Trim(0);
                }
                if (_space.ReservedBytes > value)
                    throw new NnlArgumentException(nameof(BudgetBytes), $"{Units.Bytes(value)} is below the {Units.Bytes(_space.ReservedBytes)} that live allocations hold on {Name}; free them first");
                _budget = value;
            }
        }
    }

    private string Name => Device < 0 ? "memory pool" : $"cuda:{Device} memory pool";

    /// <summary>A block of at least <paramref name="bytes"/> for <paramref name="owner"/> ("layer 12 weights", "kv cache").</summary>
    public PoolAllocation Allocate(long bytes, string owner, bool relocatable = false)
    {
        if (bytes <= 0) throw new NnlArgumentException(nameof(bytes), $"an allocation needs a positive size, not {bytes} (owner '{owner}')");
        ArgumentNullException.ThrowIfNull(owner);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            bool small = bytes <= _small.Limit;
            long blockBytes = small ? SmallBlocks.Round(bytes) : (bytes + _space.PageBytes - 1) / _space.PageBytes * _space.PageBytes;
            ulong address;
            AllocationPath path = AllocationPath.Hit;
            if (small)
            {
                address = _small.TryAllocate(blockBytes);
                if (address == 0)
                {
                    ulong page = _space.Allocate(1, _budget, out path);
                    if (page != 0)
                    {
                        _small.AddPage(page);
                        address = _small.TryAllocate(blockBytes);
                    }
                }
            }
            else
            {
                address = _space.Allocate(blockBytes / _space.PageBytes, _budget, out path);
                if (address == 0 && _small.TakeEmptyPages() is { Count: > 0 } emptyPages)
                {
                    // The page kept warm for small blocks is needed: give it back and try again.
                    foreach (ulong page in emptyPages) _space.Free(page);
                    address = _space.Allocate(blockBytes / _space.PageBytes, _budget, out path);
                }
            }

            if (address == 0)
            {
                _outOfMemory++;
                Timeline.Record(Device, "OutOfMemory", 0, 0, bytes, owner, -1);
                throw new NnlOutOfMemoryException(Name, bytes, owner, _budget, _space.ReservedBytes, _allocated, LargestFreeBytes());
            }

            var allocation = new PoolAllocation(this, ++_nextId, address, bytes, blockBytes, owner, relocatable && !small);
            _live[address] = allocation;
            _allocations++;
            if (path == AllocationPath.Hit) _hits++;
            if (path == AllocationPath.Defragmented) _defragmentations++;
            _allocated += blockBytes;
            _requested += bytes;
            UpdatePeaks();
            Timeline.Record(Device, "Allocate", address, Offset(address), blockBytes, owner, allocation.Id);
            return allocation;
        }
    }

    public void Free(PoolAllocation allocation)
    {
        if (allocation.Pool != this) throw new NnlArgumentException(nameof(allocation), $"'{allocation.Owner}' belongs to another pool");
        lock (_gate)
        {
            if (_disposed || !allocation.MarkFreed()) return;
            ulong address = allocation.DevicePointer;
            _live.Remove(address);
            if (_small.Owns(address))
            {
                ulong emptyPage = _small.Free(address);
                if (emptyPage != 0) _space.Free(emptyPage);
            }
            else _space.Free(address);
            _frees++;
            _allocated -= allocation.BlockBytes;
            _requested -= allocation.Bytes;
            Timeline.Record(Device, "Free", address, Offset(address), allocation.BlockBytes, allocation.Owner, allocation.Id);
        }
    }

    /// <summary>Returns every cached byte to the driver (Clear-NnlMemoryPool); live allocations stay.</summary>
    public void Trim()
    {
        lock (_gate)
        {
            foreach (ulong page in _small.TakeEmptyPages()) _space.Free(page);
            long before = _space.ReservedBytes;
            _space.Trim(0);
            Timeline.Record(Device, "Trim", 0, 0, before - _space.ReservedBytes, "pool", -1);
        }
    }

    /// <summary>Starts the peaks again from the current values (Reset-NnlMemoryPoolStatistics).</summary>
    public void ResetPeaks()
    {
        lock (_gate)
        {
            _peakAllocated = _allocated;
            _peakRequested = _requested;
            _peakReserved = _space.ReservedBytes;
            Timeline.Record(Device, "ResetPeaks", 0, 0, 0, "pool", -1);
        }
    }

    public NnlMemoryPoolStatistics Statistics()
    {
        lock (_gate)
        {
            long reserved = _space.ReservedBytes;
            long free = reserved - _allocated;
            long largest = LargestFreeBytes();
            return new NnlMemoryPoolStatistics(
                Device, Backing, _space.PageBytes, _budget, reserved, _allocated, _requested, free, largest,
                UtilisationFragmentation: _peakReserved == 0 ? 0 : 1 - (double)_peakAllocated / _peakReserved,
                ExternalFragmentation: free <= 0 ? 0 : 1 - (double)Math.Min(largest, free) / free,
                ActiveBlocks: _live.Count,
                _peakAllocated, _peakReserved, _peakRequested, _allocations, _frees,
                DriverCalls: _memory.DriverCalls - _driverCallsAtStart,
                CacheHits: _hits, Defragmentations: _defragmentations, OutOfMemoryCount: _outOfMemory);
        }
    }

    /// <summary>Every block: live allocations with their owners, cached blocks, free space in small-block pages.</summary>
    public IReadOnlyList<NnlMemoryBlock> Blocks()
    {
        lock (_gate)
        {
            var list = new List<NnlMemoryBlock>();
            foreach (var (address, bytes, state) in _space.Blocks())
            {
                if (_small.IsPage(address)) continue;
                _live.TryGetValue(address, out var a);
                list.Add(new NnlMemoryBlock(Device, address, Offset(address), bytes, state, a?.Owner ?? "", a?.Id ?? -1));
            }
            foreach (var (address, bytes, allocated) in _small.Blocks())
            {
                _live.TryGetValue(address, out var a);
                list.Add(new NnlMemoryBlock(Device, address, Offset(address), bytes, allocated ? "Allocated" : "SmallFree", a?.Owner ?? "", a?.Id ?? -1));
            }
            return list.OrderBy(b => b.Address).ToList();
        }
    }

    /// <summary>The live allocations, for tests and diagnostics.</summary>
    public IReadOnlyList<PoolAllocation> LiveAllocations() { lock (_gate) return _live.Values.ToList(); }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            _space.Dispose();
            _live.Clear();
        }
        lock (Pools)
            if (Device >= 0 && Pools.TryGetValue(Device, out var p) && p == this) Pools.Remove(Device);
    }

    private long LargestFreeBytes() => Math.Max(_space.LargestFreeBytes, _small.LargestFreeBytes);

    private long Offset(ulong address) => (long)(address - Math.Min(address, _space.LowestAddress));

    private void UpdatePeaks()
    {
        _peakAllocated = Math.Max(_peakAllocated, _allocated);
        _peakRequested = Math.Max(_peakRequested, _requested);
        _peakReserved = Math.Max(_peakReserved, _space.ReservedBytes);
    }

    private bool CanRelocate(ulong address) => _live.TryGetValue(address, out var a) && a.IsRelocatable;

    private void Relocated(ulong from, ulong to)
    {
        if (!_live.Remove(from, out var a)) return;
        a.MoveTo(to);
        _live[to] = a;
        Timeline.Record(Device, "Relocate", to, Offset(to), a.BlockBytes, a.Owner, a.Id);
    }
}
