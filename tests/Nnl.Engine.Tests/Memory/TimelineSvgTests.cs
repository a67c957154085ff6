using System.Xml.Linq;
using Nnl.Engine.Memory;

namespace Nnl.Engine.Tests.Memory;

public class TimelineSvgTests
{
    private const long Granule = 2L << 20;
    private static readonly XNamespace Svg = "http://www.w3.org/2000/svg";

    [Fact]
    public void TheRingBufferKeepsTheNewestEventsInOrder()
    {
        var timeline = new MemoryTimeline(capacity: 100);
        int n = 250 + new Random().Next(50);
        for (int i = 0; i < n; i++) timeline.Record(0, "Allocate", (ulong)i, i, 512, "x", i);
        var events = timeline.Snapshot();
        Assert.Equal(100, events.Count);
        Assert.Equal(n, timeline.Recorded);
        Assert.Equal(Enumerable.Range(n - 100, 100).Select(i => (long)i), events.Select(e => e.Sequence));
        Assert.True(events.Zip(events.Skip(1)).All(p => p.First.TimeMilliseconds <= p.Second.TimeMilliseconds));
    }

    [Fact]
    public void ThePictureIsWellFormedWithOneRectPerBlockLifetimeAndALegendPerOwnerGroup()
    {
        var fake = new FakePhysicalMemory(virtualMemory: false);   // segments: relocation draws two lifetimes
        using var pool = new DeviceMemoryPool(fake, 12 * Granule);
        var rng = new Random();
        var live = new List<PoolAllocation>();
        int allocations = 0;
        for (int i = 0; i < 300; i++)
        {
            if (live.Count > 0 && rng.Next(2) == 0) { int k = rng.Next(live.Count); live[k].Dispose(); live.RemoveAt(k); }
            else
            {
                try { live.Add(pool.Allocate(rng.NextInt64(1, 3 * Granule), $"layer {rng.Next(40)} {(rng.Next(2) == 0 ? "weights" : "activations")}", relocatable: true)); allocations++; }
                catch (NnlOutOfMemoryException) { }
            }
        }
        var events = pool.Timeline.Snapshot();
        int relocations = events.Count(e => e.Operation == "Relocate");
        var writer = new StringWriter();
        var lifetimes = MemoryTimelineSvg.Write(events, writer, "test <pool> & timeline");
        var doc = XDocument.Parse(writer.ToString());   // throws unless well-formed
        Assert.Equal(Svg + "svg", doc.Root!.Name);
        var blocks = doc.Descendants(Svg + "rect").Where(r => (string?)r.Attribute("class") == "block").ToList();
        Assert.Equal(allocations + relocations, blocks.Count);
        Assert.Equal(lifetimes.Count, blocks.Count);
        // Colours follow owner groups ("layer N weights", "layer N activations"): two swatches, two fills.
        Assert.Equal(2, doc.Descendants(Svg + "rect").Count(r => (string?)r.Attribute("class") == "legend-swatch"));
        Assert.Equal(2, blocks.Select(b => (string?)b.Attribute("fill")).Distinct().Count());
        Assert.Contains(doc.Descendants(Svg + "text"), t => t.Value == "time (ms)");
        Assert.Contains(doc.Descendants(Svg + "text"), t => t.Value.StartsWith("address offset", StringComparison.Ordinal));
        Assert.Equal("test <pool> & timeline", doc.Root.Element(Svg + "title")!.Value);
        // Every rectangle lies inside the picture.
        foreach (var b in blocks)
        {
            double x = (double)b.Attribute("x")!, y = (double)b.Attribute("y")!, w = (double)b.Attribute("width")!, h = (double)b.Attribute("height")!;
            Assert.True(x >= 0 && y >= 0 && x + w <= 1400.01 && y + h <= 800.01, $"rect {x},{y} {w}x{h} outside");
        }
    }

    [Fact]
    public void LifetimesPairAllocationsWithTheirFreesAndCloseOpenOnesAtTheEnd()
    {
        var events = new List<NnlMemoryEvent>
        {
            new(0, 0, 1.0, "Allocate", 0x1000, 0, 4096, "a", 1),
            new(0, 1, 2.0, "Allocate", 0x3000, 0x2000, 4096, "b", 2),
            new(0, 2, 3.5, "Free", 0x1000, 0, 4096, "a", 1),
            new(0, 3, 4.0, "Free", 0x9000, 0x8000, 512, "dropped", 7),
            new(0, 4, 6.0, "Trim", 0, 0, 0, "pool", -1),
        };
        var l = MemoryTimelineSvg.Lifetimes(events);
        Assert.Equal(3, l.Count);
        Assert.Contains(l, x => x.AllocationId == 1 && x.Start == 1.0 && x.End == 3.5);
        Assert.Contains(l, x => x.AllocationId == 2 && x.Start == 2.0 && x.End == 6.0);
        Assert.Contains(l, x => x.AllocationId == 7 && x.Start == 1.0 && x.End == 4.0);
        var byNumber = MemoryTimelineSvg.Lifetimes(events, byEventNumber: true);
        Assert.Contains(byNumber, x => x.AllocationId == 1 && x.Start == 0 && x.End == 2);
    }
}
