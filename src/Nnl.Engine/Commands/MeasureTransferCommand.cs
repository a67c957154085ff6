using Nnl.Engine.Cuda;
using Nnl.Engine.Transfer;

namespace Nnl.Engine.Commands;

/// <summary>
/// Measure-NnlTransfer / `nnl transfer`: bandwidth and latency of host↔device, device↔device and
/// peer copies over a list of sizes (one, a shmoo or a range), or the tensor-pattern comparison.
/// Every parameter is checked by <see cref="Validate"/> before the driver is touched.
/// </summary>
public sealed class MeasureTransferCommand : INnlCommand
{
    public int Device { get; init; }
    public TransferDirection[]? Direction { get; init; }
    public HostMemoryKind[]? HostMemory { get; init; }
    public TransferMechanism[]? Mechanism { get; init; }
    public long[]? Size { get; init; }
    public bool Shmoo { get; init; }
    public bool Extended { get; init; }
    /// <summary>start, end, step in bytes.</summary>
    public long[]? Range { get; init; }
    public int Streams { get; init; } = 1;
    public long? ChunkSize { get; init; }
    public int Iterations { get; init; } = 10;
    public int CopiesPerSample { get; init; } = 16;
    public int WarmupCopies { get; init; } = 4;
    public long[]? TensorSizes { get; init; }
    public string? TensorSet { get; init; }
    public int? PeerDevice { get; init; }

    public static readonly TransferDirection[] DefaultDirections = [TransferDirection.HostToDevice, TransferDirection.DeviceToHost];

    internal bool IsTensorPattern => TensorSizes is { Length: > 0 } || TensorSet is not null;

    public IReadOnlyList<TransferDirection> Directions => Direction is { Length: > 0 } d ? d : DefaultDirections;

    /// <summary>Checks every parameter; throws <see cref="NnlArgumentException"/> naming the first bad one.</summary>
    public void Validate()
    {
        if (Device < 0) throw new NnlArgumentException(nameof(Device), $"a device index is 0 or more, not {Device}");
        int modes = (Size is { Length: > 0 } ? 1 : 0) + (Shmoo ? 1 : 0) + (Range is not null ? 1 : 0) + (IsTensorPattern ? 1 : 0);
        if (modes > 1) throw new NnlArgumentException(nameof(Size), "give one of -Size, -Shmoo, -Range or -TensorSizes/-TensorSet");
        if (Extended && !Shmoo) throw new NnlArgumentException(nameof(Extended), "-Extended continues the shmoo; use it with -Shmoo");
        foreach (long s in Size ?? []) if (s <= 0) throw new NnlArgumentException(nameof(Size), $"sizes must be positive, not {s}");
        if (Range is not null)
        {
            if (Range.Length != 3) throw new NnlArgumentException(nameof(Range), $"give start,end,step (3 sizes), not {Range.Length}");
            TransferSizes.Range(Range[0], Range[1], Range[2]);
        }
        if (Streams is < 1 or > 64) throw new NnlArgumentException(nameof(Streams), $"use 1 to 64 streams, not {Streams}");
        if (ChunkSize is <= 0) throw new NnlArgumentException(nameof(ChunkSize), $"the chunk size must be positive, not {ChunkSize}");
        if (ChunkSize is { } chunk && chunk % 16 != 0 && Mechanism is { } mechanisms && mechanisms.Contains(TransferMechanism.Kernel))
            throw new NnlArgumentException(nameof(ChunkSize), $"the copy kernel moves 16-byte vectors: use a chunk size that is a multiple of 16, not {chunk}");
        if (Iterations is < 1 or > 100_000) throw new NnlArgumentException(nameof(Iterations), $"use 1 to 100000 iterations, not {Iterations}");
        if (CopiesPerSample is < 1 or > 100_000) throw new NnlArgumentException(nameof(CopiesPerSample), $"use 1 to 100000 copies per sample, not {CopiesPerSample}");
        if (WarmupCopies < 0) throw new NnlArgumentException(nameof(WarmupCopies), $"warm-up copies cannot be negative ({WarmupCopies})");
        if (TensorSizes is { Length: > 0 } && TensorSet is not null)
            throw new NnlArgumentException(nameof(TensorSizes), "give -TensorSizes or -TensorSet, not both");
        foreach (long s in TensorSizes ?? []) if (s <= 0) throw new NnlArgumentException(nameof(TensorSizes), $"tensor sizes must be positive, not {s}");
        if (TensorSet is not null) TensorSets.Get(TensorSet);
        if (IsTensorPattern && Direction is { Length: > 0 } && Direction.Any(d => d != TransferDirection.HostToDevice))
            throw new NnlArgumentException(nameof(Direction), "the tensor pattern measures HostToDevice (how a loader fills the GPU) only");
        if (PeerDevice is { } p)
        {
            if (!Directions.Contains(TransferDirection.PeerToPeer))
                throw new NnlArgumentException(nameof(PeerDevice), "-PeerDevice is for -Direction PeerToPeer");
            if (p < 0 || p == Device) throw new NnlArgumentException(nameof(PeerDevice), $"the peer must be another GPU than {Device}, not {p}");
        }
        if (!IsTensorPattern) Configurations();
    }

    /// <summary>The sizes of the sweep: -Size, the shmoo (extended), a range, or bandwidthTest's quick 32 MB.</summary>
    public IReadOnlyList<long> Sizes() =>
        Size is { Length: > 0 } ? Size
        : Shmoo ? (Extended ? TransferSizes.ExtendedShmoo : TransferSizes.Shmoo)
        : Range is { Length: 3 } r ? TransferSizes.Range(r[0], r[1], r[2])
        : [TransferSizes.QuickBytes];

    public IReadOnlyList<TransferConfig> Configurations(Action<string>? note = null) =>
        TransferConfig.Expand(Directions,
            HostMemory is { Length: > 0 } m ? m : [HostMemoryKind.Pinned],
            Mechanism is { Length: > 0 } k ? k : [TransferMechanism.CopyEngine], note);

    public void Execute(ICommandSink sink)
    {
        Validate();
        CudaDriver.EnsureInitialised();
        var context = CudaContext.ForDevice(Device); // an unknown index fails here with CUDA_ERROR_INVALID_DEVICE
        string name = CudaDriver.DeviceName(CudaDriver.GetDevice(Device));
        var sampling = new TransferSampling(Iterations, CopiesPerSample, WarmupCopies);

        if (IsTensorPattern)
        {
            var tensors = TensorSet is not null ? TensorSets.Get(TensorSet) : TensorSizes!;
            TensorPatternSweep.PackedOffsets(tensors, out long packed);
            CheckFree(context, packed, "the tensor pattern");
            using var probe = new TransferProbe(context, null, sampling);
            new TensorPatternSweep(probe, sampling, Streams, name, sink).Run(tensors, TensorSet?.ToLowerInvariant() ?? "custom");
            return;
        }

        var configs = Configurations(sink.WriteVerbose);
        var sizes = Sizes();
        long largest = sizes.Max();
        CudaContext? peer = null;
        if (configs.Any(c => c.Direction == TransferDirection.PeerToPeer))
        {
            int count = CudaDriver.DeviceCount;
            if (count < 2) throw NnlTransferException.NoPeerDevice(Device, count);
            peer = CudaContext.ForDevice(PeerDevice ?? (Device + 1) % count);
            CheckFree(peer, largest, $"PeerToPeer at {largest:N0} bytes");
        }
        foreach (var c in configs) CheckFree(context, c.DeviceBytes(largest), $"{c} at {largest:N0} bytes");

        using var p = new TransferProbe(context, peer, sampling);
        new TransferSweep(p, sampling, Streams, ChunkSize, name, sink).Run(configs, sizes);
    }

    // Leave room for the context's own allocations (kernels, the pattern counter, driver staging).
    private const long ReserveBytes = 64L << 20;

    private static void CheckFree(CudaContext context, long bytes, string what)
    {
        long free = context.MemoryInfo().FreeBytes;
        if (bytes > free - ReserveBytes) throw NnlTransferException.SizeExceedsFreeMemory(context.Ordinal, bytes, free, what);
    }
}
