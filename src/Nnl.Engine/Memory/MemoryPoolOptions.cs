namespace Nnl.Engine.Memory;

/// <summary>Tunables of a <see cref="DeviceMemoryPool"/>; the defaults suit the offloading engine.</summary>
public sealed record MemoryPoolOptions
{
    /// <summary>Address space reserved at a time (virtual memory only; costs no physical memory).</summary>
    public long RegionBytes { get; init; } = 256L << 30;

    /// <summary>Events the timeline keeps (oldest dropped first).</summary>
    public int TimelineCapacity { get; init; } = 1 << 16;
}
