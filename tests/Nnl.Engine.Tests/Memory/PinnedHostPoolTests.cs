using Nnl.Engine.Memory;

namespace Nnl.Engine.Tests.Memory;

public class PinnedHostPoolTests
{
    private const long Granule = 2L << 20;

    /// <summary>Hands out fake host addresses and fails on a double or unknown free.</summary>
    private sealed class FakePinned : IPinnedHostMemory
    {
        private readonly Dictionary<IntPtr, long> _live = new();
        private long _next = 0x10_0000_0000;
        public long DriverCalls { get; private set; }
        public long PinnedBytes => _live.Values.Sum();

        public IntPtr Allocate(long bytes)
        {
            DriverCalls++;
            var p = (IntPtr)_next;
            _next += bytes + 4096;
            _live[p] = bytes;
            return p;
        }

        public void Free(IntPtr pointer)
        {
            DriverCalls++;
            if (!_live.Remove(pointer)) throw new InvalidOperationException($"free of unknown pinned buffer {pointer}");
        }
    }

    [Fact]
    public void ABufferWastesLessThanOneGranuleNotAPowerOfTwo()
    {
        var fake = new FakePinned();
        using var pool = new PinnedHostPool(fake, 8L << 30);
        long bytes = 1_100_000_000 + new Random().Next(1_000_000);  // PyTorch would pin 2 GiB for this
        using var a = pool.Allocate(bytes, "layer 0 weights staging");
        Assert.InRange(fake.PinnedBytes - bytes, 0, Granule - 1);
        Assert.Equal(fake.PinnedBytes, pool.Statistics().ReservedBytes);
    }

    [Fact]
    public void FreedBuffersAreReusedAndTheBudgetUnpinsTheOldestFirst()
    {
        var fake = new FakePinned();
        using var pool = new PinnedHostPool(fake, 10 * Granule);
        var a = pool.Allocate(3 * Granule - 5, "a");
        IntPtr where = a.HostPointer;
        a.Dispose();
        long calls = fake.DriverCalls;
        var b = pool.Allocate(3 * Granule, "b");
        Assert.Equal(where, b.HostPointer);
        Assert.Equal(calls, fake.DriverCalls);
        Assert.Equal(1, pool.Statistics().CacheHits);
        b.Dispose();

        // A different size does not fit the cached buffer: with the budget full, the cache is unpinned first.
        using var c = pool.Allocate(8 * Granule, "c");
        Assert.Equal(8 * Granule, fake.PinnedBytes);
        var e = Assert.Throws<NnlOutOfMemoryException>(() => pool.Allocate(3 * Granule, "d"));
        Assert.Equal(8 * Granule, e.ReservedBytes);
        using var d = pool.Allocate(2 * Granule, "d");
        var s = pool.Statistics();
        Assert.Equal(10 * Granule, s.ReservedBytes);
        Assert.Equal(2, s.ActiveBlocks);
        Assert.Equal(1, s.OutOfMemoryCount);
        Assert.Equal(-1, s.Device);
        Assert.Equal("PinnedHost", s.Backing);
    }

    [Fact]
    public void TrimUnpinsCachedBuffersOnly()
    {
        var fake = new FakePinned();
        using var pool = new PinnedHostPool(fake, 64 * Granule);
        using var live = pool.Allocate(Granule + 1, "live");
        pool.Allocate(5 * Granule, "cached").Dispose();
        pool.Trim();
        Assert.Equal(2 * Granule, fake.PinnedBytes);
        Assert.Equal(2 * Granule, pool.Statistics().ReservedBytes);
    }
}
