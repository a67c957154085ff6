namespace Nnl.Engine.Memory;

/// <summary>
/// The virtual-memory layer (GMLake-style stitching on CUDA virtual memory). Address space is
/// reserved in large regions; each page of a region is either backed by its own physical chunk
/// (one granule) or not. A block is a run of pages in one region, in one of three states:
/// allocated, cached (free but still mapped: reusable with no driver call) or hole (unmapped).
///
/// Policy, in order: (1) best-fit a cached block and split it — a hit; (2) otherwise take a hole
/// and back it with chunks: first chunks already unmapped, then chunks unmapped from the cached
/// blocks freed longest ago (stitching scattered free memory into one contiguous range), and only
/// then new chunks from the driver. So a request fails only when live blocks plus the request
/// exceed the budget: free memory never becomes unusable because it is scattered, and reserved
/// memory grows only when the live set does.
/// </summary>
internal sealed class VirtualSpace : IBlockSpace
{
    private enum State { Allocated, Cached, Hole }

    private sealed class Region(int index, ulong baseAddress, long pages)
    {
        public readonly int Index = index;
        public readonly ulong Base = baseAddress;
        public readonly long Pages = pages;
        public readonly ulong[] Chunks = new ulong[pages];
        public Block? First;
    }

    private sealed class Block
    {
        public required Region Region;
        public long Start;
        public long Pages;
        public State State;
        public long FreedAt;
        public Block? Prev, Next;
    }

    /// <summary>Best fit order: smallest first, then lowest address.</summary>
    private sealed class BySize : IComparer<Block>
    {
        public static readonly BySize Instance = new();
        public int Compare(Block? a, Block? b)
        {
            int c = a!.Pages.CompareTo(b!.Pages);
            if (c != 0) return c;
            c = a.Region.Index.CompareTo(b.Region.Index);
            return c != 0 ? c : a.Start.CompareTo(b.Start);
        }
    }

    private readonly IPhysicalMemory _memory;
    private readonly long _regionPages;
    private readonly List<Region> _regions = new();
    private readonly SortedSet<Block> _cached = new(BySize.Instance);
    private readonly SortedSet<Block> _holes = new(BySize.Instance);
    private readonly Dictionary<ulong, Block> _allocated = new();
    private readonly Stack<ulong> _unmappedChunks = new();
    private long _chunks;
    private long _cachedPages;
    private long _clock;

    public VirtualSpace(IPhysicalMemory memory, long regionBytes)
    {
        if (!memory.SupportsVirtualMemory) throw new NnlArgumentException(nameof(memory), "this device has no virtual memory management; use the segment pool");
        _memory = memory;
        PageBytes = memory.Granularity;
        _regionPages = Math.Max(1, (regionBytes + PageBytes - 1) / PageBytes);
    }

    public long PageBytes { get; }
    public long ReservedBytes => _chunks * PageBytes;
    public long LargestFreeBytes => (_unmappedChunks.Count + _cachedPages) * PageBytes;
    public ulong LowestAddress => _regions.Count == 0 ? 0 : _regions.Min(r => r.Base);

    private ulong Address(Block b, long page = 0) => b.Region.Base + (ulong)((b.Start + page) * PageBytes);

    public ulong Allocate(long pages, long budgetBytes, out AllocationPath path)
    {
        var fit = BestFit(_cached, pages);
        if (fit is not null)
        {
            var hit = TakeHead(fit, pages);
            _cachedPages -= pages;
            path = AllocationPath.Hit;
            return Address(hit);
        }

        long budgetPages = budgetBytes / PageBytes;
        if (_unmappedChunks.Count + _cachedPages + Math.Max(0, budgetPages - _chunks) < pages)
        {
            path = AllocationPath.Grown;
            return 0;
        }

        var hole = BestFit(_holes, pages) ?? NewRegion(pages);
        var block = TakeHead(hole, pages);
        long deficit = pages - _unmappedChunks.Count;
        path = AllocationPath.Grown;
        if (deficit > 0 && _cachedPages > 0)
        {
            Reclaim(Math.Min(deficit, _cachedPages));
            path = AllocationPath.Defragmented;
        }
        for (long p = 0; p < pages; p++)
        {
            ulong chunk;
            if (_unmappedChunks.Count > 0) chunk = _unmappedChunks.Pop();
            else
            {
                chunk = _memory.Create(PageBytes);
                _chunks++;
            }
            _memory.Map(Address(block, p), PageBytes, chunk);
            block.Region.Chunks[block.Start + p] = chunk;
        }
        return Address(block);
    }

    public void Free(ulong address)
    {
        if (!_allocated.Remove(address, out var block))
            throw new NnlArgumentException(nameof(address), $"0x{address:x} is not a live block of this pool");
        block.State = State.Cached;
        block.FreedAt = ++_clock;
        _cachedPages += block.Pages;
        Insert(Coalesce(block));
    }

    public void Trim(long keepBytes = 0)
    {
        long keepPages = Math.Max(0, keepBytes / PageBytes);
        if (_cachedPages + _unmappedChunks.Count > keepPages)
            Reclaim(Math.Min(_cachedPages, _cachedPages + _unmappedChunks.Count - keepPages));
        while (_unmappedChunks.Count > keepPages)
        {
            _memory.Release(_unmappedChunks.Pop());
            _chunks--;
        }
    }

    public IEnumerable<(ulong Address, long Bytes, string State)> Blocks()
    {
        foreach (var region in _regions)
            for (var b = region.First; b is not null; b = b.Next)
                if (b.State != State.Hole) yield return (Address(b), b.Pages * PageBytes, b.State.ToString());
    }

    public void Dispose()
    {
        foreach (var region in _regions)
        {
            for (long p = 0; p < region.Pages; p++)
            {
                if (region.Chunks[p] == 0) continue;
                _memory.Unmap(region.Base + (ulong)(p * PageBytes), PageBytes);
                _memory.Release(region.Chunks[p]);
                region.Chunks[p] = 0;
            }
            _memory.FreeReservation(region.Base, region.Pages * PageBytes);
        }
        while (_unmappedChunks.Count > 0) _memory.Release(_unmappedChunks.Pop());
        _regions.Clear();
        _cached.Clear();
        _holes.Clear();
        _allocated.Clear();
        _chunks = 0;
        _cachedPages = 0;
    }

    /// <summary>Unmaps <paramref name="pages"/> pages of cached blocks, oldest freed first, keeping their chunks for reuse.</summary>
    private void Reclaim(long pages)
    {
        while (pages > 0)
        {
            Block? victim = null;
            foreach (var b in _cached)
                if (victim is null || b.FreedAt < victim.FreedAt) victim = b;
            if (victim is null) return;
            long take = Math.Min(pages, victim.Pages);
            _cached.Remove(victim);
            for (long p = victim.Pages - take; p < victim.Pages; p++)
            {
                long page = victim.Start + p;
                _memory.Unmap(victim.Region.Base + (ulong)(page * PageBytes), PageBytes);
                _unmappedChunks.Push(victim.Region.Chunks[page]);
                victim.Region.Chunks[page] = 0;
            }
            Block hole;
            if (take == victim.Pages)
            {
                victim.State = State.Hole;
                hole = victim;
            }
            else
            {
                hole = SplitAfter(victim, victim.Pages - take);
                hole.State = State.Hole;
                _cached.Add(victim);
            }
            _cachedPages -= take;
            pages -= take;
            Insert(Coalesce(hole));
        }
    }

    private Block NewRegion(long pages)
    {
        long regionPages = Math.Max(pages, _regionPages);
        ulong address = _memory.Reserve(regionPages * PageBytes);
        var region = new Region(_regions.Count, address, regionPages);
        _regions.Add(region);
        var hole = new Block { Region = region, Start = 0, Pages = regionPages, State = State.Hole };
        region.First = hole;
        _holes.Add(hole);
        return hole;
    }

    private static Block? BestFit(SortedSet<Block> set, long pages)
    {
        if (set.Count == 0 || set.Max!.Pages < pages) return null;
        foreach (var b in set)
            if (b.Pages >= pages) return b;
        return null;
    }

    /// <summary>Carves the first <paramref name="pages"/> pages of a free block into an allocated block.</summary>
    private Block TakeHead(Block free, long pages)
    {
        SetOf(free.State)!.Remove(free);
        if (free.Pages > pages)
        {
            var rest = SplitAfter(free, pages);
            rest.State = free.State;
            rest.FreedAt = free.FreedAt;
            SetOf(rest.State)!.Add(rest);
        }
        free.State = State.Allocated;
        _allocated[Address(free)] = free;
        return free;
    }

    /// <summary>Cuts <paramref name="block"/> after <paramref name="pages"/> pages; returns the new tail (not in any set).</summary>
    private static Block SplitAfter(Block block, long pages)
    {
        var tail = new Block { Region = block.Region, Start = block.Start + pages, Pages = block.Pages - pages, State = block.State, Prev = block, Next = block.Next };
        if (block.Next is not null) block.Next.Prev = tail;
        block.Next = tail;
        block.Pages = pages;
        return tail;
    }

    /// <summary>Merges a block (in no set) with neighbours of the same state; returns the merged block.</summary>
    private Block Coalesce(Block block)
    {
        var set = SetOf(block.State)!;
        if (block.Prev is { } prev && prev.State == block.State)
        {
            set.Remove(prev);
            prev.Pages += block.Pages;
            prev.FreedAt = Math.Max(prev.FreedAt, block.FreedAt);
            prev.Next = block.Next;
            if (block.Next is not null) block.Next.Prev = prev;
            block = prev;
        }
        if (block.Next is { } next && next.State == block.State)
        {
            set.Remove(next);
            block.Pages += next.Pages;
            block.FreedAt = Math.Max(block.FreedAt, next.FreedAt);
            block.Next = next.Next;
            if (next.Next is not null) next.Next.Prev = block;
        }
        return block;
    }

    private void Insert(Block block) => SetOf(block.State)!.Add(block);

    private SortedSet<Block>? SetOf(State state) => state switch
    {
        State.Cached => _cached,
        State.Hole => _holes,
        _ => null,
    };
}
