using Nnl.Engine.Memory;

namespace Nnl.Engine.Tests.Memory;

/// <summary>
/// Random allocate/free traces against the fake physical memory, checking after every step what
/// must always hold: no two live blocks overlap, alignment, every live block backed and its data
/// intact, statistics equal to what the live set says, reserved never above the budget, and an
/// out-of-memory error only when the request truly cannot fit — after which the pool goes on working.
/// </summary>
public class PoolPropertyTests
{
    private const long Granule = 2L << 20;

    private sealed class Live(PoolAllocation a, ulong stamp)
    {
        public readonly PoolAllocation Allocation = a;
        public readonly ulong Stamp = stamp;
    }

    public static TheoryData<bool, int> Cases()
    {
        var data = new TheoryData<bool, int>();
        int seed = Environment.TickCount;
        foreach (bool vmm in new[] { true, false })
            for (int i = 0; i < 3; i++) data.Add(vmm, seed + i * 7919);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void RandomTracesKeepEveryInvariant(bool virtualMemory, int seed)
    {
        var rng = new Random(seed);
        var fake = new FakePhysicalMemory(virtualMemory);
        long budget = (160 + rng.Next(160)) * Granule;
        using var pool = new DeviceMemoryPool(fake, budget);
        var live = new List<Live>();
        int ooms = 0;
        string context = $"seed {seed}, {(virtualMemory ? "virtual memory" : "segments")}, budget {budget}";

        for (int step = 0; step < 2500; step++)
        {
            if (live.Count > 0 && rng.NextDouble() < 0.45)
            {
                int i = rng.Next(live.Count);
                CheckStamp(fake, live[i], context);
                live[i].Allocation.Dispose();
                live.RemoveAt(i);
            }
            else
            {
                // Log-uniform sizes from 1 byte to 96 MiB: small blocks, granule edges, multi-granule blocks.
                long bytes = Math.Max(1, (long)Math.Exp(rng.NextDouble() * Math.Log(96.0 * (1 << 20))));
                if (rng.Next(8) == 0) bytes = Granule * rng.Next(1, 4) + rng.Next(-1, 2); // exact granule edges
                string owner = $"owner {rng.Next(5)}";
                var before = pool.Statistics();
                try
                {
                    var a = pool.Allocate(bytes, owner, relocatable: rng.Next(2) == 0);
                    Assert.True(a.Bytes == bytes && a.BlockBytes >= bytes && a.Owner == owner, context);
                    var entry = new Live(a, (ulong)rng.NextInt64(1, long.MaxValue));
                    fake.Write(a.DevicePointer, entry.Stamp);
                    if (a.Bytes >= 16) fake.Write(a.DevicePointer + (ulong)(a.Bytes - 8), entry.Stamp ^ 0x5555);
                    live.Add(entry);
                }
                catch (NnlOutOfMemoryException e)
                {
                    ooms++;
                    Assert.Equal(bytes, e.RequestedBytes);
                    Assert.Equal(budget, e.BudgetBytes);
                    Assert.Equal(owner, e.Owner);
                    var after = pool.Statistics();
                    // Nothing live changed and the counters say so.
                    Assert.Equal(before.AllocatedBytes, after.AllocatedBytes);
                    Assert.Equal(before.ActiveBlocks, after.ActiveBlocks);
                    Assert.Equal(before.OutOfMemoryCount + 1, after.OutOfMemoryCount);
                    long rounded = (bytes + Granule - 1) / Granule * Granule;
                    if (virtualMemory && bytes > Granule / 2)
                        // Stitching: only a request larger than all unused physical memory plus the headroom may fail.
                        Assert.True(rounded > e.LargestFreeBlockBytes + (budget - e.ReservedBytes), $"{context}: spurious OOM for {bytes} ({e.Message})");
                    else if (bytes > Granule / 2)
                        // Segments: after releasing empty segments and compacting, no free range holds the request.
                        Assert.True(rounded > e.LargestFreeBlockBytes, $"{context}: OOM for {bytes} with a free block of {e.LargestFreeBlockBytes}");
                }
            }
            CheckInvariants(pool, fake, live, budget, context, full: step % 50 == 0);
        }
        Assert.True(ooms > 0 || pool.Statistics().PeakReservedBytes < budget, $"{context}: the trace never pressed the budget");

        // Free everything: the pool must account back to zero and keep working.
        foreach (var l in live) { CheckStamp(fake, l, context); l.Allocation.Dispose(); }
        live.Clear();
        var s = pool.Statistics();
        Assert.Equal(0, s.AllocatedBytes);
        Assert.Equal(0, s.ActiveBlocks);
        pool.Trim();
        Assert.Equal(0, pool.Statistics().ReservedBytes);
        Assert.Equal(0, fake.PhysicalBytes);
        using var again = pool.Allocate(budget - Granule, "after trim");
        Assert.True(fake.IsAccessible(again.DevicePointer, again.Bytes), context);
    }

    private static void CheckStamp(FakePhysicalMemory fake, Live l, string context)
    {
        var a = l.Allocation;
        Assert.True(l.Stamp == fake.Read(a.DevicePointer), $"{context}: data of '{a.Owner}' #{a.Id} lost");
        if (a.Bytes >= 16) Assert.True((l.Stamp ^ 0x5555) == fake.Read(a.DevicePointer + (ulong)(a.Bytes - 8)), $"{context}: tail of #{a.Id} lost");
    }

    private static void CheckInvariants(DeviceMemoryPool pool, FakePhysicalMemory fake, List<Live> live, long budget, string context, bool full)
    {
        var s = pool.Statistics();
        Assert.True(s.ReservedBytes <= budget, $"{context}: reserved {s.ReservedBytes} above budget");
        Assert.Equal(fake.PhysicalBytes, s.ReservedBytes);
        Assert.Equal(live.Sum(l => l.Allocation.BlockBytes), s.AllocatedBytes);
        Assert.Equal(live.Sum(l => l.Allocation.Bytes), s.RequestedBytes);
        Assert.Equal(live.Count, s.ActiveBlocks);
        Assert.Equal(s.ReservedBytes - s.AllocatedBytes, s.FreeBytes);
        Assert.True(s.FreeBytes >= 0 && s.LargestFreeBlockBytes <= s.FreeBytes, context);
        Assert.True(s.PeakReservedBytes >= s.ReservedBytes && s.PeakAllocatedBytes >= s.AllocatedBytes && s.PeakRequestedBytes >= s.RequestedBytes, context);
        Assert.Equal(s.AllocationCount - s.FreeCount, live.Count);
        Assert.Equal(fake.DriverCalls, s.DriverCalls);
        Assert.InRange(s.UtilisationFragmentation, 0, 1);
        Assert.InRange(s.ExternalFragmentation, 0, 1);

        var sorted = live.Select(l => l.Allocation).OrderBy(a => a.DevicePointer).ToList();
        for (int i = 0; i < sorted.Count; i++)
        {
            var a = sorted[i];
            ulong alignment = a.BlockBytes > Granule / 2 ? (ulong)Granule : 512;
            Assert.True(a.DevicePointer % alignment == 0, $"{context}: #{a.Id} at 0x{a.DevicePointer:x} not {alignment}-aligned");
            if (i > 0) Assert.True(sorted[i - 1].DevicePointer + (ulong)sorted[i - 1].BlockBytes <= a.DevicePointer, $"{context}: #{sorted[i - 1].Id} overlaps #{a.Id}");
        }
        if (!full) return;
        foreach (var l in live)
        {
            Assert.True(fake.IsAccessible(l.Allocation.DevicePointer, l.Allocation.BlockBytes), $"{context}: #{l.Allocation.Id} not backed");
            CheckStamp(fake, l, context);
        }
        var blocks = pool.Blocks();
        Assert.Equal(live.Count, blocks.Count(b => b.State == "Allocated"));
        foreach (var l in live)
            Assert.Contains(blocks, b => b.AllocationId == l.Allocation.Id && b.Owner == l.Allocation.Owner && b.Address == l.Allocation.DevicePointer);
    }

    [Fact]
    public async Task ConcurrentAllocatorsAndFreersKeepTheBooksStraight()
    {
        var fake = new FakePhysicalMemory(virtualMemory: true);
        using var pool = new DeviceMemoryPool(fake, 400 * Granule);
        var handoff = new System.Collections.Concurrent.BlockingCollection<PoolAllocation>(64);
        int seed = Environment.TickCount;
        var producers = Enumerable.Range(0, 2).Select(t => Task.Run(() =>
        {
            var rng = new Random(seed + t);
            for (int i = 0; i < 1500; i++)
            {
                try { handoff.Add(pool.Allocate(rng.NextInt64(1, 6 * Granule), $"thread {t}")); }
                catch (NnlOutOfMemoryException) { Thread.Yield(); }
            }
        })).ToArray();
        var consumer = Task.Run(() =>
        {
            foreach (var a in handoff.GetConsumingEnumerable())
            {
                Assert.True(fake.IsAccessible(a.DevicePointer, a.Bytes));
                a.Dispose();
            }
        });
        await Task.WhenAll(producers);
        handoff.CompleteAdding();
        await consumer;
        var s = pool.Statistics();
        Assert.Equal(0, s.ActiveBlocks);
        Assert.Equal(0, s.AllocatedBytes);
        Assert.Equal(s.AllocationCount, s.FreeCount);
        Assert.True(s.PeakReservedBytes <= 400 * Granule);
    }
}
