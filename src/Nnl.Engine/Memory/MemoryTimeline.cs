using System.Diagnostics;

namespace Nnl.Engine.Memory;

/// <summary>
/// A bounded ring buffer of pool events: recording never allocates after the buffer is full and
/// never blocks the allocator for long; the oldest events are dropped first.
/// </summary>
public sealed class MemoryTimeline
{
    private readonly NnlMemoryEvent?[] _ring;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private long _next;

    public MemoryTimeline(int capacity = 1 << 16)
    {
        if (capacity <= 0) throw new NnlArgumentException(nameof(capacity), $"a timeline needs room for at least one event, not {capacity}");
        _ring = new NnlMemoryEvent?[capacity];
    }

    public int Capacity => _ring.Length;

    /// <summary>Events recorded since creation, including those the ring has dropped.</summary>
    public long Recorded { get { lock (_ring) return _next; } }

    public void Record(int device, string operation, ulong address, long offset, long bytes, string owner, long allocationId)
    {
        lock (_ring)
        {
            long seq = _next++;
            _ring[seq % _ring.Length] = new NnlMemoryEvent(device, seq, _clock.Elapsed.TotalMilliseconds, operation, address, offset, bytes, owner, allocationId);
        }
    }

    /// <summary>The events still held, oldest first.</summary>
    public IReadOnlyList<NnlMemoryEvent> Snapshot()
    {
        lock (_ring)
        {
            long first = Math.Max(0, _next - _ring.Length);
            var list = new List<NnlMemoryEvent>((int)(_next - first));
            for (long s = first; s < _next; s++) list.Add(_ring[s % _ring.Length]!);
            return list;
        }
    }

    public void Clear()
    {
        lock (_ring)
        {
            Array.Clear(_ring);
            _next = 0;
        }
    }
}
