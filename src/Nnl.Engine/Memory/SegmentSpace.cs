namespace Nnl.Engine.Memory;

/// <summary>
/// The layer for devices without virtual memory management: a best-fit caching allocator over
/// segments from cuMemAlloc, with splitting and coalescing (PyTorch's native allocator, in pages).
/// When the budget leaves no room for a new segment it first returns wholly free segments to the
/// driver, then compacts: relocatable blocks (the engine owns its buffers, so it can move them)
/// are copied to the lowest free place that holds them, which merges the free space left behind
/// and empties whole segments that can then be released.
/// </summary>
internal sealed class SegmentSpace : IBlockSpace
{
    private sealed class Segment(int index, ulong baseAddress, long pages)
    {
        public readonly int Index = index;
        public readonly ulong Base = baseAddress;
        public readonly long Pages = pages;
        public Range? First;
        public long UsedPages;
        public long LastFreed;
    }

    private sealed class Range
    {
        public required Segment Segment;
        public long Start;
        public long Pages;
        public bool Free;
        public Range? Prev, Next;
    }

    private sealed class BySize : IComparer<Range>
    {
        public static readonly BySize Instance = new();
        public int Compare(Range? a, Range? b)
        {
            int c = a!.Pages.CompareTo(b!.Pages);
            return c != 0 ? c : ByAddress.Instance.Compare(a, b);
        }
    }

    private sealed class ByAddress : IComparer<Range>
    {
        public static readonly ByAddress Instance = new();
        public int Compare(Range? a, Range? b)
        {
            int c = a!.Segment.Index.CompareTo(b!.Segment.Index);
            return c != 0 ? c : a.Start.CompareTo(b.Start);
        }
    }

    private readonly IPhysicalMemory _memory;
    private readonly Func<ulong, bool> _canRelocate;
    private readonly Action<ulong, ulong> _relocated;
    private readonly List<Segment> _segments = new();
    private readonly SortedSet<Range> _free = new(BySize.Instance);
    private readonly SortedSet<Range> _freeByAddress = new(ByAddress.Instance);
    private readonly Dictionary<ulong, Range> _allocated = new();
    private long _reservedPages;
    private long _clock;
    private int _nextIndex;

    public SegmentSpace(IPhysicalMemory memory, Func<ulong, bool> canRelocate, Action<ulong, ulong> relocated)
    {
        _memory = memory;
        _canRelocate = canRelocate;
        _relocated = relocated;
        PageBytes = memory.Granularity;
    }

    public long PageBytes { get; }
    public long ReservedBytes => _reservedPages * PageBytes;
    public long LargestFreeBytes => _free.Count == 0 ? 0 : _free.Max!.Pages * PageBytes;
    public ulong LowestAddress => _segments.Count == 0 ? 0 : _segments.Min(s => s.Base);

    private ulong Address(Range r) => r.Segment.Base + (ulong)(r.Start * PageBytes);

    public ulong Allocate(long pages, long budgetBytes, out AllocationPath path)
    {
        long budgetPages = budgetBytes / PageBytes;
        path = AllocationPath.Hit;
        if (BestFit(pages) is { } fit) return Take(fit, pages);

        path = AllocationPath.Grown;
        if (_reservedPages + pages > budgetPages) ReleaseEmptySegments(_reservedPages + pages - budgetPages);
        if (_reservedPages + pages <= budgetPages) return NewSegment(pages);

        // Compaction can only help if the free pages plus the headroom could hold the request.
        long freePages = _free.Sum(r => r.Pages);
        if (freePages + (budgetPages - _reservedPages) < pages) return 0;
        if (!Compact()) return 0;
        path = AllocationPath.Defragmented;
        if (BestFit(pages) is { } packed) return Take(packed, pages);
        ReleaseEmptySegments(_reservedPages + pages - budgetPages);
        return _reservedPages + pages <= budgetPages ? NewSegment(pages) : 0;
    }

    public void Free(ulong address)
    {
        if (!_allocated.Remove(address, out var range))
            throw new NnlArgumentException(nameof(address), $"0x{address:x} is not a live block of this pool");
        range.Segment.UsedPages -= range.Pages;
        range.Segment.LastFreed = ++_clock;
        range.Free = true;
        AddFree(Coalesce(range));
    }

    public void Trim(long keepBytes = 0)
    {
        long keepPages = Math.Max(0, keepBytes / PageBytes);
        long emptyPages = _segments.Where(s => s.UsedPages == 0).Sum(s => s.Pages);
        if (emptyPages > keepPages) ReleaseEmptySegments(emptyPages - keepPages);
    }

    public IEnumerable<(ulong Address, long Bytes, string State)> Blocks()
    {
        foreach (var s in _segments)
            for (var r = s.First; r is not null; r = r.Next)
                yield return (Address(r), r.Pages * PageBytes, r.Free ? "Cached" : "Allocated");
    }

    public void Dispose()
    {
        foreach (var s in _segments) _memory.Free(s.Base);
        _segments.Clear();
        _free.Clear();
        _freeByAddress.Clear();
        _allocated.Clear();
        _reservedPages = 0;
    }

    private Range? BestFit(long pages)
    {
        if (_free.Count == 0 || _free.Max!.Pages < pages) return null;
        foreach (var r in _free)
            if (r.Pages >= pages) return r;
        return null;
    }

    private ulong NewSegment(long pages)
    {
        ulong address = _memory.Allocate(pages * PageBytes);
        var segment = new Segment(_nextIndex++, address, pages);
        var range = new Range { Segment = segment, Start = 0, Pages = pages, Free = true };
        segment.First = range;
        _segments.Add(segment);
        _reservedPages += pages;
        AddFree(range);
        return Take(range, pages);
    }

    private ulong Take(Range free, long pages)
    {
        RemoveFree(free);
        if (free.Pages > pages)
        {
            var rest = new Range { Segment = free.Segment, Start = free.Start + pages, Pages = free.Pages - pages, Free = true, Prev = free, Next = free.Next };
            if (free.Next is not null) free.Next.Prev = rest;
            free.Next = rest;
            free.Pages = pages;
            AddFree(rest);
        }
        free.Free = false;
        free.Segment.UsedPages += pages;
        ulong address = Address(free);
        _allocated[address] = free;
        return address;
    }

    /// <summary>Releases wholly free segments, least recently used first, until <paramref name="pages"/> pages are gone or none are left.</summary>
    private void ReleaseEmptySegments(long pages)
    {
        foreach (var s in _segments.Where(s => s.UsedPages == 0).OrderBy(s => s.LastFreed).ToList())
        {
            if (pages <= 0) break;
            RemoveFree(s.First!);
            _segments.Remove(s);
            _memory.Free(s.Base);
            _reservedPages -= s.Pages;
            pages -= s.Pages;
        }
    }

    /// <summary>Moves relocatable blocks, highest address first, to the lowest free range that holds them.</summary>
    private bool Compact()
    {
        bool moved = false;
        var candidates = _allocated.Values.Where(r => _canRelocate(Address(r))).OrderByDescending(r => r, ByAddress.Instance).ToList();
        foreach (var block in candidates)
        {
            Range? target = null;
            foreach (var f in _freeByAddress)
            {
                if (ByAddress.Instance.Compare(f, block) > 0) break;
                if (f.Pages >= block.Pages) { target = f; break; }
            }
            if (target is null) continue;
            ulong from = Address(block);
            long pages = block.Pages;
            ulong to = Take(target, pages);
            _memory.Copy(to, from, pages * PageBytes);
            Free(from);
            _relocated(from, to);
            moved = true;
        }
        return moved;
    }

    private Range Coalesce(Range range)
    {
        if (range.Prev is { Free: true } prev)
        {
            RemoveFree(prev);
            prev.Pages += range.Pages;
            prev.Next = range.Next;
            if (range.Next is not null) range.Next.Prev = prev;
            range = prev;
        }
        if (range.Next is { Free: true } next)
        {
            RemoveFree(next);
            range.Pages += next.Pages;
            range.Next = next.Next;
            if (next.Next is not null) next.Next.Prev = range;
        }
        return range;
    }

    private void AddFree(Range r) { _free.Add(r); _freeByAddress.Add(r); }
    private void RemoveFree(Range r) { _free.Remove(r); _freeByAddress.Remove(r); }
}
