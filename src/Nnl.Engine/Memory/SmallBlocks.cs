namespace Nnl.Engine.Memory;

/// <summary>
/// Sub-allocates small requests (up to half a page) from whole pages that the large-block layer
/// hands out: sizes round up to 512-byte classes, best fit across pages, split and coalesce within
/// a page. Small buffers (norm weights, a decode step's activations) so never pin a whole 2 MiB
/// granule each. A page that empties goes back to the large layer, except one kept warm.
/// </summary>
internal sealed class SmallBlocks
{
    public const long Unit = 512;

    private sealed class Page(int index, ulong baseAddress, long bytes)
    {
        public readonly int Index = index;
        public readonly ulong Base = baseAddress;
        public readonly long Bytes = bytes;
        public readonly SortedList<long, long> Free = new() { { 0, bytes } };
        public long Used;
    }

    private readonly long _pageBytes;
    private readonly Dictionary<ulong, Page> _pages = new();
    private readonly SortedSet<(long Bytes, int Page, long Offset)> _free = new();
    private readonly Dictionary<int, Page> _byIndex = new();
    private readonly Dictionary<ulong, (Page Page, long Bytes)> _allocated = new();
    private int _nextIndex;

    public SmallBlocks(long pageBytes) => _pageBytes = pageBytes;

    public long Limit => _pageBytes / 2;
    public long PageBytes => _pageBytes;
    public int PageCount => _pages.Count;
    public long FreeBytes => _free.Sum(f => f.Bytes);
    public long LargestFreeBytes => _free.Count == 0 ? 0 : _free.Max.Bytes;

    public static long Round(long bytes) => (bytes + Unit - 1) / Unit * Unit;

    /// <summary>A block of <paramref name="bytes"/> (already rounded), or 0 when no page has room.</summary>
    public ulong TryAllocate(long bytes)
    {
        var view = _free.GetViewBetween((bytes, int.MinValue, long.MinValue), (long.MaxValue, int.MaxValue, long.MaxValue));
        if (view.Count == 0) return 0;
        var (freeBytes, pageIndex, offset) = view.Min;
        var page = _byIndex[pageIndex];
        _free.Remove(view.Min);
        page.Free.Remove(offset);
        if (freeBytes > bytes)
        {
            page.Free.Add(offset + bytes, freeBytes - bytes);
            _free.Add((freeBytes - bytes, page.Index, offset + bytes));
        }
        page.Used += bytes;
        ulong address = page.Base + (ulong)offset;
        _allocated[address] = (page, bytes);
        return address;
    }

    public void AddPage(ulong address)
    {
        var page = new Page(_nextIndex++, address, _pageBytes);
        _pages[address] = page;
        _byIndex[page.Index] = page;
        _free.Add((_pageBytes, page.Index, 0));
    }

    public bool Owns(ulong address) => _allocated.ContainsKey(address);

    /// <summary>Frees a block; returns the address of a page to give back to the large layer, or 0.</summary>
    public ulong Free(ulong address)
    {
        var (page, bytes) = _allocated[address];
        _allocated.Remove(address);
        page.Used -= bytes;
        long offset = (long)(address - page.Base);
        long length = bytes;
        // Merge with the free extent before and after (the page's free list is sorted by offset).
        var keys = page.Free.Keys;
        int i = LowerBound(keys, offset);
        if (i > 0)
        {
            long prevOffset = keys[i - 1], prevLength = page.Free.Values[i - 1];
            if (prevOffset + prevLength == offset)
            {
                RemoveExtent(page, prevOffset, prevLength);
                offset = prevOffset;
                length += prevLength;
            }
        }
        if (page.Free.TryGetValue(offset + length, out long nextLength))
        {
            RemoveExtent(page, offset + length, nextLength);
            length += nextLength;
        }
        page.Free.Add(offset, length);
        _free.Add((length, page.Index, offset));

        if (page.Used == 0 && _pages.Values.Count(p => p.Used == 0) > 1) return RemovePage(page);
        return 0;
    }

    /// <summary>Removes every empty page; returns their addresses for the large layer to free.</summary>
    public List<ulong> TakeEmptyPages() => _pages.Values.Where(p => p.Used == 0).ToList().Select(RemovePage).ToList();

    public IEnumerable<(ulong Address, long Bytes, bool Allocated)> Blocks()
    {
        foreach (var page in _pages.Values.OrderBy(p => p.Base))
        {
            foreach (var kv in page.Free) yield return (page.Base + (ulong)kv.Key, kv.Value, false);
        }
        foreach (var kv in _allocated) yield return (kv.Key, kv.Value.Bytes, true);
    }

    public bool IsPage(ulong address) => _pages.ContainsKey(address);

    private ulong RemovePage(Page page)
    {
        foreach (var kv in page.Free) _free.Remove((kv.Value, page.Index, kv.Key));
        _pages.Remove(page.Base);
        _byIndex.Remove(page.Index);
        return page.Base;
    }

    private void RemoveExtent(Page page, long offset, long length)
    {
        page.Free.Remove(offset);
        _free.Remove((length, page.Index, offset));
    }

    private static int LowerBound(IList<long> keys, long value)
    {
        int lo = 0, hi = keys.Count;
        while (lo < hi)
        {
            int mid = (lo + hi) / 2;
            if (keys[mid] < value) lo = mid + 1; else hi = mid;
        }
        return lo;
    }
}
