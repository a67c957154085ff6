using Nnl.Engine.Memory;

namespace Nnl.Engine.Commands;

/// <summary>A timeline picture written to disk.</summary>
public sealed record NnlMemoryTimelinePicture(string Path, int Device, int Events, int Blocks, int OwnerGroups, long Bytes);

/// <summary>Export-NnlMemoryTimeline / `nnl pool --export x.svg`: draws a pool's timeline as SVG.</summary>
public sealed class ExportMemoryTimelineCommand : INnlCommand
{
    public int Device { get; init; }
    public required string Path { get; init; }
    public int Width { get; init; } = 1400;
    public int Height { get; init; } = 800;
    /// <summary>Put event numbers across instead of milliseconds (evenly spaced, easier to read for bursts).</summary>
    public bool ByEventNumber { get; init; }
    public string? Title { get; init; }
    internal IReadOnlyList<DeviceMemoryPool>? Pools { get; init; }

    public void Execute(ICommandSink sink)
    {
        if (string.IsNullOrWhiteSpace(Path)) throw new NnlArgumentException(nameof(Path), "give a file to write the SVG to");
        var pool = MemoryPoolSelection.Resolve([Device], Pools).FirstOrDefault()
            ?? throw new NnlArgumentException(nameof(Device), $"no memory pool for device {Device}");
        sink.WriteRecord(Write(pool.Timeline.Snapshot(), Path, Title ?? $"cuda:{pool.Device} memory pool ({pool.Backing})", Device, Width, Height, ByEventNumber));
    }

    internal static NnlMemoryTimelinePicture Write(IReadOnlyList<NnlMemoryEvent> events, string path, string title, int device, int width, int height, bool byEventNumber)
    {
        string full = System.IO.Path.GetFullPath(path);
        string? dir = System.IO.Path.GetDirectoryName(full);
        if (dir is not null && !Directory.Exists(dir)) throw new NnlArgumentException(nameof(Path), $"the folder {dir} does not exist");
        IReadOnlyList<MemoryLifetime> lifetimes;
        using (var writer = new StreamWriter(full))
            lifetimes = MemoryTimelineSvg.Write(events, writer, title, width, height, byEventNumber);
        return new NnlMemoryTimelinePicture(full, device, events.Count, lifetimes.Count,
            lifetimes.Select(l => MemoryTimelineSvg.OwnerGroup(l.Owner)).Distinct().Count(), new FileInfo(full).Length);
    }
}
