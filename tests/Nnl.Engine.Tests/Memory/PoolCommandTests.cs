using Nnl.Engine.Commands;
using Nnl.Engine.Memory;

namespace Nnl.Engine.Tests.Memory;

public class PoolCommandTests
{
    private const long Granule = 2L << 20;

    private static (DeviceMemoryPool Pool, List<PoolAllocation> Live) BusyPool()
    {
        var pool = new DeviceMemoryPool(new FakePhysicalMemory(true), 64 * Granule);
        var rng = new Random();
        var live = new List<PoolAllocation>();
        for (int i = 0; i < 20; i++) live.Add(pool.Allocate(rng.NextInt64(1, 4 * Granule), $"layer {i} weights"));
        for (int i = 0; i < 20; i += 3) live[i].Dispose();
        return (pool, live);
    }

    [Fact]
    public void GetWritesStatisticsBlocksAndEvents()
    {
        var (pool, live) = BusyPool();
        using var _ = pool;
        var sink = new CollectingSink();
        new GetMemoryPoolCommand { Pools = [pool] }.Execute(sink);
        var s = Assert.Single(sink.RecordsOf<NnlMemoryPoolStatistics>());
        Assert.Equal(live.Where(a => !a.IsFreed).Sum(a => a.BlockBytes), s.AllocatedBytes);

        sink = new CollectingSink();
        new GetMemoryPoolCommand { Pools = [pool], Detailed = true, Timeline = true }.Execute(sink);
        var blocks = sink.RecordsOf<NnlMemoryBlock>().ToList();
        foreach (var a in live.Where(a => !a.IsFreed))
            Assert.Contains(blocks, b => b.AllocationId == a.Id && b.Owner == a.Owner && b.State == "Allocated");
        var events = sink.RecordsOf<NnlMemoryEvent>().ToList();
        Assert.Equal(20, events.Count(e => e.Operation == "Allocate"));
        Assert.Equal(7, events.Count(e => e.Operation == "Free"));
        Assert.Empty(sink.RecordsOf<NnlMemoryPoolStatistics>());
    }

    [Fact]
    public void ClearReturnsCachedMemoryAndResetRestartsPeaks()
    {
        var (pool, live) = BusyPool();
        using var _ = pool;
        var before = pool.Statistics();
        Assert.True(before.ReservedBytes > before.AllocatedBytes);
        var sink = new CollectingSink();
        new ClearMemoryPoolCommand { Pools = [pool], PassThru = true }.Execute(sink);
        var after = Assert.Single(sink.RecordsOf<NnlMemoryPoolStatistics>());
        Assert.True(after.ReservedBytes < before.ReservedBytes);
        Assert.Equal(before.AllocatedBytes, after.AllocatedBytes);

        foreach (var a in live.Take(10)) a.Dispose();
        sink = new CollectingSink();
        new ResetMemoryPoolStatisticsCommand { Pools = [pool], PassThru = true }.Execute(sink);
        var reset = Assert.Single(sink.RecordsOf<NnlMemoryPoolStatistics>());
        Assert.Equal(reset.AllocatedBytes, reset.PeakAllocatedBytes);
        Assert.True(reset.PeakAllocatedBytes < before.PeakAllocatedBytes);
    }

    [Fact]
    public void ExportWritesAnSvgFileAndRefusesAMissingFolder()
    {
        var (pool, _) = BusyPool();
        using var p = pool;
        string path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"nnl-timeline-{Guid.NewGuid():N}.svg");
        try
        {
            var sink = new CollectingSink();
            new ExportMemoryTimelineCommand { Device = -1, Path = path, Pools = [pool] }.Execute(sink);
            var picture = Assert.Single(sink.RecordsOf<NnlMemoryTimelinePicture>());
            Assert.Equal(20, picture.Blocks);
            Assert.Equal(1, picture.OwnerGroups);
            Assert.Equal(new FileInfo(path).Length, picture.Bytes);
            System.Xml.Linq.XDocument.Load(path);
        }
        finally { File.Delete(path); }
        var e = Assert.Throws<NnlArgumentException>(() =>
            new ExportMemoryTimelineCommand { Device = -1, Path = "/no/such/folder/x.svg", Pools = [pool] }.Execute(new CollectingSink()));
        Assert.Contains("/no/such/folder", e.Message);
    }

    [Fact]
    public void TracesRoundTripThroughTheirTextFormAndBadLinesNameTheirPlace()
    {
        var trace = MemoryTrace.Random(new Random().Next(), operations: 500);
        var text = new StringWriter();
        trace.Write(text);
        var back = MemoryTrace.Parse(new StringReader(text.ToString()), "x.trace");
        Assert.Equal(trace.Name, back.Name);
        Assert.Equal(trace.Events, back.Events);
        Assert.Equal(trace.PeakLiveBytes, back.PeakLiveBytes);

        var e = Assert.Throws<NnlArgumentException>(() => MemoryTrace.Parse(new StringReader("a 1 100 x\nf 2\n"), "bad.trace"));
        Assert.Contains("bad.trace line 2", e.Message);
        Assert.Throws<NnlArgumentException>(() => MemoryTrace.Parse(new StringReader("a 1 -5 x\n"), "bad.trace"));
    }

    [Fact]
    public void TheLlamaTraceHasTheShapesItClaims()
    {
        var trace = MemoryTrace.LlamaOffload(decodeTokens: 3);
        long blockWeights = (4L * 5120 * 5120 + 3L * 5120 * 13824 + 2 * 5120) * 2;
        var allocations = trace.Events.Where(e => e.Operation == MemoryTraceOperation.Allocate).ToList();
        Assert.Equal(4 * 40, allocations.Count(a => a.Bytes == blockWeights && a.Owner.EndsWith("weights", StringComparison.Ordinal)));
        Assert.Equal(40, allocations.Count(a => a.Owner.EndsWith("kv cache", StringComparison.Ordinal)));
        Assert.Equal(4, trace.Tokens);
        // Prefetch depth 2: at most three blocks' weights live at once.
        var live = new HashSet<long>();
        int most = 0;
        foreach (var e in trace.Events)
        {
            if (e.Operation == MemoryTraceOperation.Allocate && e.Bytes == blockWeights) live.Add(e.Id);
            if (e.Operation == MemoryTraceOperation.Free) live.Remove(e.Id);
            most = Math.Max(most, live.Count);
        }
        Assert.Equal(3, most);
        Assert.InRange(trace.PeakLiveBytes, 4L << 30, 8L << 30);
    }
}
