using System.Diagnostics;

namespace Nnl.Engine.Memory;

/// <summary>What replays a trace: a pool, or the driver directly (one cuMemAlloc per allocation).</summary>
public interface IReplayTarget
{
    string Backing { get; }
    long DriverCalls { get; }
    ulong Allocate(long id, long bytes, string owner);
    void Free(long id);
    /// <summary>Peak memory taken from the driver (for direct allocation: peak live bytes).</summary>
    long PeakReservedBytes { get; }
    long CacheHits { get; }
    long Defragmentations { get; }
}

/// <summary>Result of replaying a <see cref="MemoryTrace"/> (`nnl pool --replay`).</summary>
/// <param name="ReservedOverRequested">Peak reserved / peak requested: 1 is perfect; the goal with virtual memory is at most 1.02.</param>
/// <param name="HitMedianMicroseconds">Median host time of an allocation that made no driver call.</param>
/// <param name="MissMedianMicroseconds">Median host time of an allocation that called the driver.</param>
/// <param name="SteadyDriverCallsPerToken">Driver calls per token after the first token (the warm-up).</param>
/// <param name="LargeAllocateMedianMicroseconds">Median host time of allocations of 1 MiB or more (hits and misses).</param>
/// <param name="FreeMedianMicroseconds">Median host time of a free.</param>
public sealed record NnlMemoryReplayResult(
    string Trace,
    string Backing,
    int Device,
    long BudgetBytes,
    int Allocations,
    int Tokens,
    long PeakRequestedBytes,
    long PeakReservedBytes,
    double ReservedOverRequested,
    long CacheHits,
    int Misses,
    double AllocateMedianMicroseconds,
    double HitMedianMicroseconds,
    double MissMedianMicroseconds,
    double LargeAllocateMedianMicroseconds,
    double LargeHitMedianMicroseconds,
    double FreeMedianMicroseconds,
    long DriverCalls,
    double DriverCallsPerToken,
    double SteadyDriverCallsPerToken,
    long Defragmentations,
    long VerifiedBytes,
    long Mismatches,
    int OutOfMemory,
    double Milliseconds);

/// <summary>Replays a trace against a target, timing each allocation on the host.</summary>
public static class MemoryTraceReplay
{
    /// <param name="afterAllocate">Called with (pointer, bytes, id) after each allocation (to write a pattern).</param>
    /// <param name="beforeFree">Called with (pointer, bytes, id) before each free (to check the pattern).</param>
    public static NnlMemoryReplayResult Run(MemoryTrace trace, IReplayTarget target, int device, long budgetBytes,
        Action<ulong, long, long>? afterAllocate = null, Action<ulong, long, long>? beforeFree = null,
        Func<(long VerifiedBytes, long Mismatches)>? verification = null, CancellationToken cancellation = default)
    {
        var live = new Dictionary<long, (ulong Pointer, long Bytes)>();
        var hits = new List<double>();
        var misses = new List<double>();
        var large = new List<double>();
        var largeHits = new List<double>();
        var frees = new List<double>();
        long callsAtStart = target.DriverCalls, callsAfterFirstToken = -1;
        int tokens = 0, outOfMemory = 0;
        var skipped = new HashSet<long>();
        var clock = Stopwatch.StartNew();
        foreach (var e in trace.Events)
        {
            switch (e.Operation)
            {
                case MemoryTraceOperation.Allocate:
                    long calls = target.DriverCalls;
                    long t0 = Stopwatch.GetTimestamp();
                    ulong pointer;
                    try { pointer = target.Allocate(e.Id, e.Bytes, e.Owner); }
                    catch (NnlOutOfMemoryException)
                    {
                        // The trace asks for more than the budget holds here: note it, skip the block, go on.
                        outOfMemory++;
                        skipped.Add(e.Id);
                        break;
                    }
                    double us = Stopwatch.GetElapsedTime(t0).TotalMicroseconds;
                    bool hit = target.DriverCalls == calls;
                    (hit ? hits : misses).Add(us);
                    if (e.Bytes >= 1 << 20)
                    {
                        large.Add(us);
                        if (hit) largeHits.Add(us);
                    }
                    live[e.Id] = (pointer, e.Bytes);
                    afterAllocate?.Invoke(pointer, e.Bytes, e.Id);
                    break;
                case MemoryTraceOperation.Free:
                    if (skipped.Remove(e.Id)) break;
                    var (p, bytes) = live[e.Id];
                    live.Remove(e.Id);
                    beforeFree?.Invoke(p, bytes, e.Id);
                    long f0 = Stopwatch.GetTimestamp();
                    target.Free(e.Id);
                    frees.Add(Stopwatch.GetElapsedTime(f0).TotalMicroseconds);
                    break;
                default:
                    cancellation.ThrowIfCancellationRequested();
                    if (++tokens == 1) callsAfterFirstToken = target.DriverCalls;
                    break;
            }
        }
        var (verified, mismatches) = verification?.Invoke() ?? (0, 0);
        long peakRequested = trace.PeakLiveBytes;
        long driverCalls = target.DriverCalls - callsAtStart;
        long steadyCalls = callsAfterFirstToken < 0 ? 0 : target.DriverCalls - callsAfterFirstToken;
        return new NnlMemoryReplayResult(
            trace.Name, target.Backing, device, budgetBytes, hits.Count + misses.Count, tokens,
            peakRequested, target.PeakReservedBytes, (double)target.PeakReservedBytes / peakRequested,
            target.CacheHits, misses.Count, Median(hits.Concat(misses)), Median(hits), Median(misses),
            Median(large), Median(largeHits), Median(frees),
            driverCalls, tokens == 0 ? 0 : (double)driverCalls / tokens,
            tokens <= 1 ? 0 : (double)steadyCalls / (tokens - 1),
            target.Defragmentations, verified, mismatches, outOfMemory, clock.Elapsed.TotalMilliseconds);
    }

    internal static double Median(IEnumerable<double> values) => SampleStatistics.Median(values);
}

/// <summary>Replays into a <see cref="DeviceMemoryPool"/>.</summary>
public sealed class PoolReplayTarget(DeviceMemoryPool pool) : IReplayTarget
{
    private readonly Dictionary<long, PoolAllocation> _live = new();
    public string Backing => pool.Backing;
    public long DriverCalls => pool.Statistics().DriverCalls;
    public long PeakReservedBytes => pool.Statistics().PeakReservedBytes;
    public long CacheHits => pool.Statistics().CacheHits;
    public long Defragmentations => pool.Statistics().Defragmentations;

    public ulong Allocate(long id, long bytes, string owner)
    {
        var a = pool.Allocate(bytes, owner);
        _live[id] = a;
        return a.DevicePointer;
    }

    public void Free(long id)
    {
        _live.Remove(id, out var a);
        a!.Dispose();
    }
}

/// <summary>Replays with one driver allocation per request and no caching (cuMemAlloc/cuMemFree).</summary>
public sealed class DirectReplayTarget(IPhysicalMemory memory) : IReplayTarget
{
    private readonly Dictionary<long, (ulong Pointer, long Bytes)> _live = new();
    private long _liveBytes, _peak;
    public string Backing => "DirectCuMemAlloc";
    public long DriverCalls => memory.DriverCalls;
    public long PeakReservedBytes => _peak;
    public long CacheHits => 0;
    public long Defragmentations => 0;

    public ulong Allocate(long id, long bytes, string owner)
    {
        ulong p = memory.Allocate(bytes);
        _live[id] = (p, bytes);
        _liveBytes += bytes;
        _peak = Math.Max(_peak, _liveBytes);
        return p;
    }

    public void Free(long id)
    {
        _live.Remove(id, out var a);
        memory.Free(a.Pointer);
        _liveBytes -= a.Bytes;
    }
}
