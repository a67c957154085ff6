using Nnl.Engine.Memory;

namespace Nnl.Engine.Tests.Memory;

/// <summary>
/// Physical memory without a GPU, strict about misuse the way a driver would be, and stricter where
/// the pool's own rules are tighter: ranges must be granule-aligned and inside a reservation, a chunk
/// is mapped at most once, mappings never overlap, unmaps and releases name exactly what exists.
/// Memory holds 8-byte stamps keyed by physical location, so two live blocks sharing memory, a
/// lost mapping or a bad relocation shows up as a wrong stamp.
/// </summary>
public sealed class FakePhysicalMemory : IPhysicalMemory
{
    private readonly object _gate = new();
    private readonly List<(ulong Base, long Bytes)> _reservations = new();
    private readonly Dictionary<ulong, (long Bytes, bool Mapped)> _chunks = new();
    private readonly SortedDictionary<ulong, (long Bytes, ulong Handle)> _mappings = new();
    private readonly SortedDictionary<ulong, long> _segments = new();
    private readonly Dictionary<(ulong Where, long Offset), ulong> _stamps = new();
    private ulong _nextReservation = 0x7f00_0000_0000UL;
    private ulong _nextSegment = 0x1000_0000_0000UL;
    private ulong _nextHandle = 1;
    private long _calls;

    public FakePhysicalMemory(bool virtualMemory, long granularity = 2L << 20)
    {
        SupportsVirtualMemory = virtualMemory;
        Granularity = granularity;
    }

    public int Device => -1;
    public bool SupportsVirtualMemory { get; }
    public long Granularity { get; }
    public long DriverCalls { get { lock (_gate) return _calls; } }

    /// <summary>Physical bytes held: created chunks, or live segments.</summary>
    public long PhysicalBytes { get { lock (_gate) return _chunks.Values.Sum(c => c.Bytes) + _segments.Values.Sum(); } }
    public int Reservations { get { lock (_gate) return _reservations.Count; } }

    private static InvalidOperationException Misuse(string what) => new("fake driver: " + what);

    private void RequireVirtual()
    {
        if (!SupportsVirtualMemory) throw Misuse("virtual memory call on a device without virtual memory management");
    }

    private void RequireAligned(ulong address, long bytes)
    {
        if (bytes <= 0 || bytes % Granularity != 0 || address % (ulong)Granularity != 0)
            throw Misuse($"0x{address:x}+{bytes} is not granule-aligned");
    }

    public ulong Reserve(long bytes)
    {
        lock (_gate)
        {
            RequireVirtual();
            _calls++;
            RequireAligned(_nextReservation, bytes);
            ulong address = _nextReservation;
            _nextReservation += (ulong)bytes + (ulong)Granularity * 16;
            _reservations.Add((address, bytes));
            return address;
        }
    }

    public void FreeReservation(ulong address, long bytes)
    {
        lock (_gate)
        {
            _calls++;
            int i = _reservations.IndexOf((address, bytes));
            if (i < 0) throw Misuse($"free of unknown reservation 0x{address:x}+{bytes}");
            if (_mappings.Keys.Any(m => m >= address && m < address + (ulong)bytes)) throw Misuse("free of a reservation that still has mappings");
            _reservations.RemoveAt(i);
        }
    }

    public ulong Create(long bytes)
    {
        lock (_gate)
        {
            RequireVirtual();
            _calls++;
            RequireAligned(0, bytes);
            ulong h = _nextHandle++;
            _chunks[h] = (bytes, false);
            return h;
        }
    }

    public void Release(ulong handle)
    {
        lock (_gate)
        {
            _calls++;
            if (!_chunks.TryGetValue(handle, out var c)) throw Misuse($"release of unknown chunk {handle}");
            if (c.Mapped) throw Misuse($"release of chunk {handle} while mapped");
            _chunks.Remove(handle);
            foreach (var key in _stamps.Keys.Where(k => k.Where == handle).ToList()) _stamps.Remove(key);
        }
    }

    public void Map(ulong address, long bytes, ulong handle)
    {
        lock (_gate)
        {
            RequireVirtual();
            _calls += 2;
            RequireAligned(address, bytes);
            if (!_chunks.TryGetValue(handle, out var c)) throw Misuse($"map of unknown chunk {handle}");
            if (c.Mapped) throw Misuse($"chunk {handle} mapped twice");
            if (c.Bytes != bytes) throw Misuse($"map of {bytes} bytes of a {c.Bytes}-byte chunk");
            if (!_reservations.Any(r => address >= r.Base && address + (ulong)bytes <= r.Base + (ulong)r.Bytes)) throw Misuse($"map at 0x{address:x} outside every reservation");
            if (FindMapping(address) is not null || FindMapping(address + (ulong)bytes - 1) is not null) throw Misuse($"map at 0x{address:x} overlaps a mapping");
            _mappings[address] = (bytes, handle);
            _chunks[handle] = (c.Bytes, true);
        }
    }

    public void Unmap(ulong address, long bytes)
    {
        lock (_gate)
        {
            _calls++;
            if (!_mappings.TryGetValue(address, out var m) || m.Bytes != bytes) throw Misuse($"unmap of 0x{address:x}+{bytes}, which is not one whole mapping");
            _mappings.Remove(address);
            _chunks[m.Handle] = (_chunks[m.Handle].Bytes, false);
        }
    }

    public ulong Allocate(long bytes)
    {
        lock (_gate)
        {
            _calls++;
            if (bytes <= 0) throw Misuse($"cuMemAlloc of {bytes} bytes");
            ulong address = _nextSegment;
            _nextSegment += ((ulong)bytes + 2 * (ulong)Granularity) / (ulong)Granularity * (ulong)Granularity;
            _segments[address] = bytes;
            return address;
        }
    }

    public void Free(ulong address)
    {
        lock (_gate)
        {
            _calls++;
            if (!_segments.Remove(address, out long bytes)) throw Misuse($"cuMemFree of unknown 0x{address:x}");
            foreach (var key in _stamps.Keys.Where(k => k.Where == address).ToList()) _stamps.Remove(key);
        }
    }

    public void Copy(ulong destination, ulong source, long bytes)
    {
        lock (_gate)
        {
            _calls++;
            var moved = new List<(long Offset, ulong Value)>();
            var (srcWhere, srcOffset) = Locate(source, bytes);
            var (dstWhere, dstOffset) = Locate(destination, bytes);
            foreach (var (key, value) in _stamps.Where(kv => kv.Key.Where == srcWhere && kv.Key.Offset >= srcOffset && kv.Key.Offset < srcOffset + bytes).ToList())
                moved.Add((key.Offset - srcOffset, value));
            foreach (var key in _stamps.Keys.Where(k => k.Where == dstWhere && k.Offset >= dstOffset && k.Offset < dstOffset + bytes).ToList()) _stamps.Remove(key);
            foreach (var (offset, value) in moved) _stamps[(dstWhere, dstOffset + offset)] = value;
        }
    }

    /// <summary>Writes an 8-byte stamp at a device address; throws if nothing backs it.</summary>
    public void Write(ulong address, ulong value) { lock (_gate) _stamps[Locate(address, 8)] = value; }

    public ulong Read(ulong address) { lock (_gate) return _stamps.TryGetValue(Locate(address, 8), out var v) ? v : 0; }

    /// <summary>True when every byte of the range is backed (mapped, or inside one live segment).</summary>
    public bool IsAccessible(ulong address, long bytes)
    {
        lock (_gate)
        {
            if (!SupportsVirtualMemory) return SegmentOf(address, bytes) is not null;
            for (ulong a = address - address % (ulong)Granularity; a < address + (ulong)bytes; a += (ulong)Granularity)
                if (FindMapping(a) is null) return false;
            return true;
        }
    }

    /// <summary>The physical place of a range that must lie in one chunk or one segment.</summary>
    private (ulong Where, long Offset) Locate(ulong address, long bytes)
    {
        if (SupportsVirtualMemory)
        {
            var m = FindMapping(address) ?? throw Misuse($"access to unmapped 0x{address:x}");
            long offset = (long)(address - m.Address);
            if (offset + bytes > m.Bytes)
            {
                // A range across chunks: key by the first chunk is wrong, so check each chunk is mapped and key by address.
                for (ulong a = address; a < address + (ulong)bytes; a += (ulong)Granularity)
                    if (FindMapping(a) is null) throw Misuse($"access to unmapped 0x{a:x}");
                return (m.Handle, offset);
            }
            return (m.Handle, offset);
        }
        var s = SegmentOf(address, bytes) ?? throw Misuse($"access to 0x{address:x}+{bytes} outside every segment");
        return (s, (long)(address - s));
    }

    private (ulong Address, long Bytes, ulong Handle)? FindMapping(ulong address)
    {
        (ulong, long, ulong)? found = null;
        foreach (var kv in _mappings)
        {
            if (kv.Key > address) break;
            if (address < kv.Key + (ulong)kv.Value.Bytes) found = (kv.Key, kv.Value.Bytes, kv.Value.Handle);
        }
        return found;
    }

    private ulong? SegmentOf(ulong address, long bytes)
    {
        foreach (var kv in _segments)
        {
            if (kv.Key > address) break;
            if (address + (ulong)bytes <= kv.Key + (ulong)kv.Value) return kv.Key;
        }
        return null;
    }
}
