using Nnl.Engine.Memory;

namespace Nnl.Engine.Tests.Memory;

public class PoolBehaviourTests
{
    private const long Granule = 2L << 20;

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void AFreedBlockIsReusedWithoutADriverCall(bool virtualMemory)
    {
        var fake = new FakePhysicalMemory(virtualMemory);
        using var pool = new DeviceMemoryPool(fake, 64 * Granule);
        long bytes = 5 * Granule + new Random().Next(1, 1000);
        var first = pool.Allocate(bytes, "layer 0 weights");
        ulong address = first.DevicePointer;
        first.Dispose();
        long calls = fake.DriverCalls;
        using var second = pool.Allocate(bytes, "layer 1 weights");
        Assert.Equal(calls, fake.DriverCalls);
        Assert.Equal(address, second.DevicePointer);
        var s = pool.Statistics();
        Assert.Equal(1, s.CacheHits);
        Assert.Equal(2, s.AllocationCount);
        Assert.Equal(1, s.FreeCount);
    }

    [Fact]
    public void VirtualMemoryStitchesScatteredFreeChunksIntoOneBlock()
    {
        var fake = new FakePhysicalMemory(virtualMemory: true);
        using var pool = new DeviceMemoryPool(fake, 10 * Granule);
        var blocks = Enumerable.Range(0, 10).Select(i => pool.Allocate(Granule, $"block {i}")).ToList();
        for (int i = 0; i < 10; i += 2) blocks[i].Dispose();   // five free granules, none adjacent
        Assert.Equal(Granule, pool.Blocks().Where(b => b.State == "Cached").Max(b => b.Bytes));

        using var big = pool.Allocate(5 * Granule, "stitched");
        Assert.True(fake.IsAccessible(big.DevicePointer, big.Bytes));
        var s = pool.Statistics();
        Assert.Equal(10 * Granule, s.ReservedBytes);
        Assert.Equal(1, s.Defragmentations);
        Assert.Equal(0, s.FreeBytes);
        Assert.Throws<NnlOutOfMemoryException>(() => pool.Allocate(1, "one byte too many"));
    }

    [Fact]
    public void SegmentCompactionMovesRelocatableBlocksAndKeepsTheirData()
    {
        var fake = new FakePhysicalMemory(virtualMemory: false);
        using var pool = new DeviceMemoryPool(fake, 10 * Granule);
        pool.Allocate(10 * Granule, "warm-up").Dispose();       // one 10-granule segment, cached
        var blocks = Enumerable.Range(0, 10).Select(i => pool.Allocate(Granule, $"block {i}", relocatable: true)).ToList();
        var rng = new Random();
        var stamps = blocks.ToDictionary(b => b.Id, _ => (ulong)rng.NextInt64(1, long.MaxValue));
        foreach (var b in blocks) fake.Write(b.DevicePointer, stamps[b.Id]);
        for (int i = 0; i < 10; i += 2) blocks[i].Dispose();
        var before = blocks.Where(b => !b.IsFreed).ToDictionary(b => b.Id, b => b.DevicePointer);

        using var big = pool.Allocate(3 * Granule, "needs contiguous memory");
        var s = pool.Statistics();
        Assert.Equal(1, s.Defragmentations);
        Assert.Equal(10 * Granule, s.ReservedBytes);
        Assert.Contains(blocks.Where(b => !b.IsFreed), b => b.DevicePointer != before[b.Id]);
        foreach (var b in blocks.Where(b => !b.IsFreed)) Assert.Equal(stamps[b.Id], fake.Read(b.DevicePointer));
        Assert.Contains(pool.Timeline.Snapshot(), e => e.Operation == "Relocate");
        var live = pool.LiveAllocations().OrderBy(a => a.DevicePointer).ToList();
        for (int i = 1; i < live.Count; i++) Assert.True(live[i - 1].DevicePointer + (ulong)live[i - 1].BlockBytes <= live[i].DevicePointer);
    }

    [Fact]
    public void SegmentsWithoutRelocatableBlocksFailButStayUsable()
    {
        var fake = new FakePhysicalMemory(virtualMemory: false);
        using var pool = new DeviceMemoryPool(fake, 10 * Granule);
        pool.Allocate(10 * Granule, "warm-up").Dispose();
        var blocks = Enumerable.Range(0, 10).Select(i => pool.Allocate(Granule, $"pinned {i}")).ToList();
        for (int i = 0; i < 10; i += 2) blocks[i].Dispose();
        var e = Assert.Throws<NnlOutOfMemoryException>(() => pool.Allocate(3 * Granule, "too scattered"));
        Assert.Equal(Granule, e.LargestFreeBlockBytes);
        Assert.Equal(5 * Granule, e.AllocatedBytes);
        using var fits = pool.Allocate(Granule, "still fits");
        Assert.True(fake.IsAccessible(fits.DevicePointer, fits.Bytes));
    }

    [Fact]
    public void OutOfMemoryNamesTheRequestTheBudgetAndThePoolState()
    {
        var fake = new FakePhysicalMemory(virtualMemory: true);
        long budget = 8 * Granule;
        using var pool = new DeviceMemoryPool(fake, budget);
        using var held = pool.Allocate(5 * Granule, "kv cache");
        var e = Assert.Throws<NnlOutOfMemoryException>(() => pool.Allocate(4 * Granule, "layer 3 weights"));
        Assert.Equal("PoolOutOfMemory", e.ErrorId);
        Assert.Equal("LimitsExceeded", e.Category);
        Assert.Equal(4 * Granule, e.RequestedBytes);
        Assert.Equal(budget, e.BudgetBytes);
        Assert.Equal(5 * Granule, e.ReservedBytes);
        Assert.Equal(5 * Granule, e.AllocatedBytes);
        Assert.Contains("layer 3 weights", e.Message);
        Assert.Contains("16.0 MiB", e.Message);
        Assert.Contains(pool.Timeline.Snapshot(), t => t.Operation == "OutOfMemory" && t.Owner == "layer 3 weights");
        using var fits = pool.Allocate(3 * Granule, "layer 3 weights, smaller");
        Assert.Equal(budget, pool.Statistics().ReservedBytes);
    }

    [Fact]
    public void LoweringTheBudgetReturnsCachedMemoryAndRefusesToDropBelowLiveBlocks()
    {
        var fake = new FakePhysicalMemory(virtualMemory: true);
        using var pool = new DeviceMemoryPool(fake, 20 * Granule);
        var a = pool.Allocate(6 * Granule, "a");
        var b = pool.Allocate(6 * Granule, "b");
        b.Dispose();
        pool.BudgetBytes = 8 * Granule;
        Assert.Equal(6 * Granule, fake.PhysicalBytes);
        Assert.Throws<NnlArgumentException>(() => pool.BudgetBytes = 4 * Granule);
        Assert.Equal(8 * Granule, pool.BudgetBytes);
        a.Dispose();
    }

    [Fact]
    public void SmallRequestsShareOnePageAndEmptyPagesGoBack()
    {
        var fake = new FakePhysicalMemory(virtualMemory: true);
        using var pool = new DeviceMemoryPool(fake, 16 * Granule);
        var rng = new Random();
        var smalls = Enumerable.Range(0, 1000).Select(_ => pool.Allocate(rng.Next(1, 2048), "norm weights")).ToList();
        long requested = smalls.Sum(s => s.BlockBytes);
        var s = pool.Statistics();
        Assert.Equal((requested + Granule - 1) / Granule * Granule, s.ReservedBytes);  // packed, no page per request
        Assert.All(smalls, a => Assert.Equal(0UL, a.DevicePointer % 512));
        foreach (var a in smalls) a.Dispose();
        pool.Trim();
        Assert.Equal(0, pool.Statistics().ReservedBytes);
        Assert.Equal(0, fake.PhysicalBytes);
    }

    [Fact]
    public void PeaksResetToTheCurrentValues()
    {
        using var pool = new DeviceMemoryPool(new FakePhysicalMemory(true), 32 * Granule);
        var a = pool.Allocate(10 * Granule, "a");
        using var b = pool.Allocate(2 * Granule, "b");
        a.Dispose();
        Assert.Equal(12 * Granule, pool.Statistics().PeakAllocatedBytes);
        pool.ResetPeaks();
        var s = pool.Statistics();
        Assert.Equal(2 * Granule, s.PeakAllocatedBytes);
        Assert.Equal(s.ReservedBytes, s.PeakReservedBytes);
        Assert.Equal(1 - (double)s.PeakAllocatedBytes / s.PeakReservedBytes, s.UtilisationFragmentation, 12);
    }

    [Fact]
    public void FreeingTwiceIsHarmlessAndForeignAllocationsAreRefused()
    {
        using var pool = new DeviceMemoryPool(new FakePhysicalMemory(true), 8 * Granule);
        using var other = new DeviceMemoryPool(new FakePhysicalMemory(true), 8 * Granule);
        var a = pool.Allocate(3 * Granule, "a");
        a.Dispose();
        a.Dispose();
        Assert.Equal(1, pool.Statistics().FreeCount);
        var b = pool.Allocate(100, "b");
        Assert.Throws<NnlArgumentException>(() => other.Free(b));
        Assert.Throws<NnlArgumentException>(() => pool.Allocate(0, "nothing"));
    }

    [Fact]
    public void TheOffloadingTraceReusesBlocksAndReservesNoMoreThanTwoPercentOverItsPeak()
    {
        var trace = MemoryTrace.LlamaOffload(decodeTokens: 8);
        var fake = new FakePhysicalMemory(virtualMemory: true);
        using var pool = new DeviceMemoryPool(fake, 8L << 30);
        var result = MemoryTraceReplay.Run(trace, new PoolReplayTarget(pool), -1, 8L << 30);
        Assert.Equal(9, result.Tokens);
        Assert.True(result.ReservedOverRequested <= 1.02, $"peak reserved / peak requested = {result.ReservedOverRequested:F4}");
        Assert.True(result.ReservedOverRequested >= 1.0);
        Assert.Equal(0, result.SteadyDriverCallsPerToken);
        Assert.True(result.CacheHits > result.Allocations * 0.9, $"{result.CacheHits} hits of {result.Allocations}");
    }
}
