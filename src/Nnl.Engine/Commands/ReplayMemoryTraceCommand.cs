using Nnl.Engine.Cuda;
using Nnl.Engine.Memory;

namespace Nnl.Engine.Commands;

/// <summary>
/// `nnl pool --replay TRACE`: replays a memory trace on a GPU through a fresh pool (virtual memory
/// or cuMemAlloc segments) or straight through cuMemAlloc/cuMemFree, and reports peak reserved over
/// peak requested, allocation latency of hits and misses, and driver calls per token. With
/// <see cref="Verify"/>, every allocation is filled with a pattern by a kernel and checked before
/// it is freed, so blocks that overlap or lose their mapping show up as mismatches.
/// </summary>
public sealed class ReplayMemoryTraceCommand : INnlCommand
{
    public required string TracePath { get; init; }
    /// <summary>VirtualMemory, CuMemAlloc (the pool's segment layer) or Direct (no pool).</summary>
    public string Backing { get; init; } = "VirtualMemory";
    public int Device { get; init; }
    public long BudgetBytes { get; init; } = 8L << 30;
    public bool Verify { get; init; }
    /// <summary>Where to draw the pool's timeline (SVG); none when null.</summary>
    public string? SvgPath { get; init; }
    public bool ByEventNumber { get; init; }

    public void Execute(ICommandSink sink)
    {
        var trace = MemoryTrace.Read(TracePath);
        var context = CudaContext.ForDevice(Device);
        string backing = Backing.ToLowerInvariant() switch
        {
            "virtualmemory" or "vmm" => "VirtualMemory",
            "cumemalloc" or "segments" => "CuMemAlloc",
            "direct" => "Direct",
            _ => throw new NnlArgumentException(nameof(Backing), $"'{Backing}' is not a backing: use VirtualMemory, CuMemAlloc or Direct"),
        };
        var memory = new CudaPhysicalMemory(context, useVirtualMemory: backing == "VirtualMemory");
        if (backing == "VirtualMemory" && !memory.SupportsVirtualMemory)
            throw new NnlArgumentException(nameof(Backing), $"cuda:{Device} has no virtual memory management");
        sink.WriteProgress(new NnlProgress(41, "Replaying memory trace", $"{trace.Name} via {backing}"));

        using var stream = new CudaStream(context);
        using var mismatches = new DeviceBuffer(context, 8);
        mismatches.Fill(0);
        long verified = 0;
        Action<ulong, long, long>? fill = null, check = null;
        if (Verify)
        {
            var fillKernel = KernelLibrary.Kernel(context, "pattern", "nnl_fill_pattern");
            var verifyKernel = KernelLibrary.Kernel(context, "pattern", "nnl_verify_pattern");
            fill = (p, bytes, id) => { if (bytes >= 4) fillKernel.Launch(stream, 1024, 256, 0, p, bytes / 4, (uint)id); };
            check = (p, bytes, id) =>
            {
                if (bytes < 4) return;
                verifyKernel.Launch(stream, 1024, 256, 0, p, bytes / 4, (uint)id, mismatches.Pointer);
                // The pool knows nothing of streams: memory is handed back only when the GPU is done with it.
                stream.Synchronize();
                verified += bytes / 4 * 4;
            };
        }
        (long, long) Verification()
        {
            stream.Synchronize();
            var count = new ulong[1];
            mismatches.CopyTo<ulong>(count);
            return (verified, (long)count[0]);
        }

        DeviceMemoryPool? pool = null;
        try
        {
            IReplayTarget target;
            if (backing == "Direct") target = new DirectReplayTarget(memory);
            else
            {
                pool = new DeviceMemoryPool(memory, BudgetBytes, new MemoryPoolOptions { TimelineCapacity = Math.Max(1 << 16, trace.Events.Count + 16) });
                target = new PoolReplayTarget(pool);
            }
            var result = MemoryTraceReplay.Run(trace, target, Device, BudgetBytes, fill, check, Verification, sink.Cancellation);
            sink.WriteRecord(result);
            if (pool is not null)
            {
                sink.WriteRecord(pool.Statistics());
                if (SvgPath is not null)
                    sink.WriteRecord(ExportMemoryTimelineCommand.Write(pool.Timeline.Snapshot(), SvgPath,
                        $"{trace.Name} — cuda:{Device} pool ({backing}), budget {Units.Bytes(BudgetBytes)}", Device, 1400, 800, ByEventNumber));
            }
        }
        finally
        {
            pool?.Dispose();
            sink.WriteProgress(new NnlProgress(41, "Replaying memory trace", "done", 100, Completed: true));
        }
    }
}

/// <summary>A trace file written by <see cref="WriteMemoryTraceCommand"/>.</summary>
public sealed record NnlMemoryTraceFile(string Path, string Trace, int Events, int Allocations, int Tokens, long PeakLiveBytes);

/// <summary>`nnl pool --make-trace llama-offload|random --out FILE`: writes a trace that both Nnl and PyTorch replay.</summary>
public sealed class WriteMemoryTraceCommand : INnlCommand
{
    public required string Kind { get; init; }
    public required string Path { get; init; }
    public int Seed { get; init; } = 1;
    public int DecodeTokens { get; init; } = 32;

    public void Execute(ICommandSink sink)
    {
        var trace = Kind.ToLowerInvariant() switch
        {
            "llama-offload" => MemoryTrace.LlamaOffload(decodeTokens: DecodeTokens),
            "random" => MemoryTrace.Random(Seed),
            _ => throw new NnlArgumentException(nameof(Kind), $"'{Kind}' is not a trace kind: use llama-offload or random"),
        };
        string full = System.IO.Path.GetFullPath(Path);
        using (var writer = new StreamWriter(full)) trace.Write(writer);
        sink.WriteRecord(new NnlMemoryTraceFile(full, trace.Name, trace.Events.Count,
            trace.Events.Count(e => e.Operation == MemoryTraceOperation.Allocate), trace.Tokens, trace.PeakLiveBytes));
    }
}
