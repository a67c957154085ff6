using Nnl.Engine.Cuda;

namespace Nnl.Engine.Transfer;

/// <summary>How samples are taken (nvbandwidth's method, with its defaults for warm-up and copies).</summary>
public sealed record TransferSampling(int Iterations = 10, int CopiesPerSample = 16, int WarmupCopies = 4);

/// <summary>
/// Times transfers on one GPU. A sample: a short timed spin kernel holds the first stream (unless
/// pageable memory is involved, whose copies block the host), an event opens the sample, the lane
/// issues CopiesPerSample transfers back to back, its streams join, an event closes it; the sample's
/// time is the GPU time between the two events. Warm-up copies run first and are not timed.
/// </summary>
internal sealed class TransferProbe : IDisposable
{
    private const int Threads = 256;
    private readonly CudaKernel _spin;
    private readonly CudaKernel _smCopy;
    private readonly int _smCopyMaxBlocks;
    private readonly CudaEvent _go;
    private readonly CudaStream _aux;
    private readonly TransferSampling _sampling;

    public TransferProbe(CudaContext context, CudaContext? peer, TransferSampling sampling)
    {
        Context = context;
        Peer = peer;
        _sampling = sampling;
        _spin = KernelLibrary.Kernel(context, "transfer", "nnl_spin_ns");
        _smCopy = KernelLibrary.Kernel(context, "transfer", "nnl_sm_copy");
        _smCopyMaxBlocks = 4 * CudaDriver.Attribute(CudaDriver.GetDevice(context.Ordinal), CudaDeviceAttribute.MultiprocessorCount);
        _go = new CudaEvent(context, timing: false);
        _aux = new CudaStream(context);
        Pattern = new TransferPattern();
    }

    public CudaContext Context { get; }
    public CudaContext? Peer { get; }
    public TransferPattern Pattern { get; }

    /// <summary>
    /// Measures one point: fills the sources, clears the destinations, warms up, takes the samples,
    /// then checks every destination. Returns per lane the sample times and the mismatching bytes.
    /// </summary>
    public (double[] Milliseconds, long Mismatches)[] MeasurePoint(IReadOnlyList<TransferLane> lanes, TransferMechanism mechanism, bool spin, CancellationToken cancel)
    {
        foreach (var lane in lanes)
            for (int i = 0; i < lane.Checks.Count; i++)
            {
                var p = lane.Checks[i];
                Pattern.Clear(p.Destination, p.DestinationOffset, p.Bytes, StreamFor(p.Destination));
                Pattern.Fill(p.Source, p.SourceOffset, p.Bytes, lane.Seeds[i], StreamFor(p.Source));
            }
        SynchronizeAux();

        if (_sampling.WarmupCopies > 0) Sample(lanes, mechanism, spin, _sampling.WarmupCopies);
        var times = lanes.Select(_ => new double[_sampling.Iterations]).ToArray();
        for (int s = 0; s < _sampling.Iterations; s++)
        {
            cancel.ThrowIfCancellationRequested();
            var t = Sample(lanes, mechanism, spin, _sampling.CopiesPerSample);
            for (int l = 0; l < lanes.Count; l++) times[l][s] = t[l];
        }

        var result = new (double[], long)[lanes.Count];
        for (int l = 0; l < lanes.Count; l++)
        {
            long bad = 0;
            for (int i = 0; i < lanes[l].Checks.Count; i++)
            {
                var p = lanes[l].Checks[i];
                bad += Pattern.CountMismatches(p.Destination, p.DestinationOffset, p.Bytes, lanes[l].Seeds[i], StreamFor(p.Destination));
            }
            result[l] = (times[l], bad);
        }
        return result;
    }

    private CudaStream? _peerAux;

    private CudaStream StreamFor(TransferRegion region)
    {
        if (region.Context.Ordinal == Context.Ordinal) return _aux;
        return _peerAux ??= new CudaStream(region.Context);
    }

    private void SynchronizeAux()
    {
        _aux.Synchronize();
        _peerAux?.Synchronize();
    }

    /// <summary>Issues <paramref name="copies"/> transfers on every lane and returns each lane's GPU milliseconds.</summary>
    private double[] Sample(IReadOnlyList<TransferLane> lanes, TransferMechanism mechanism, bool spin, int copies)
    {
        var first = lanes[0].Streams[0];
        if (spin) _spin.Launch(first, 1, 1, 0, SpinNanoseconds(lanes, copies));
        _go.Record(first);
        foreach (var lane in lanes)
        {
            if (lane.Streams[0] != first) lane.Streams[0].Wait(_go);
            lane.Start.Record(lane.Streams[0]);
            for (int s = 1; s < lane.Streams.Count; s++) lane.Streams[s].Wait(lane.Start);
        }
        // Interleave the lanes copy by copy so a bidirectional pair fills both queues together.
        for (int c = 0; c < copies; c++)
            foreach (var lane in lanes)
                for (int i = 0; i < lane.Pieces.Count; i++)
                    Issue(lane.Leg, mechanism, lane.Pieces[i], lane.Streams[i % lane.Streams.Count]);
        foreach (var lane in lanes)
        {
            for (int s = 1; s < lane.Streams.Count; s++)
            {
                lane.Joins[s].Record(lane.Streams[s]);
                lane.Streams[0].Wait(lane.Joins[s]);
            }
            lane.End.Record(lane.Streams[0]);
        }
        var ms = new double[lanes.Count];
        for (int l = 0; l < lanes.Count; l++)
        {
            lanes[l].End.Synchronize();
            ms[l] = lanes[l].End.ElapsedMillisecondsSince(lanes[l].Start);
        }
        return ms;
    }

    /// <summary>Long enough for the host to queue every call of the sample (about 10 µs a call, generously), at most 20 ms.</summary>
    private static long SpinNanoseconds(IReadOnlyList<TransferLane> lanes, int copies)
    {
        long calls = copies * (long)lanes.Sum(l => l.Pieces.Count + 2 * l.Streams.Count);
        return Math.Min(50_000 + 10_000 * calls, 20_000_000);
    }

    private void Issue(TransferDirection leg, TransferMechanism mechanism, TransferPiece p, CudaStream stream)
    {
        if (mechanism == TransferMechanism.Kernel)
        {
            // Either side may be mapped host memory; the SMs read and write it over PCIe.
            uint blocks = (uint)Math.Clamp((p.Bytes / 16 + Threads * 4 - 1) / (Threads * 4), 1, _smCopyMaxBlocks);
            _smCopy.Launch(stream, blocks, Threads, 0, p.Source.DeviceAddress + (ulong)p.SourceOffset, p.Destination.DeviceAddress + (ulong)p.DestinationOffset, p.Bytes);
            return;
        }
        switch (leg)
        {
            case TransferDirection.HostToDevice:
                CudaCopy.HostToDevice(p.Destination.DeviceAddress + (ulong)p.DestinationOffset, p.Source.HostPointer + (nint)p.SourceOffset, p.Bytes, stream);
                break;
            case TransferDirection.DeviceToHost:
                CudaCopy.DeviceToHost(p.Destination.HostPointer + (nint)p.DestinationOffset, p.Source.DeviceAddress + (ulong)p.SourceOffset, p.Bytes, stream);
                break;
            case TransferDirection.DeviceToDevice:
                CudaCopy.DeviceToDevice(p.Destination.DeviceAddress + (ulong)p.DestinationOffset, p.Source.DeviceAddress + (ulong)p.SourceOffset, p.Bytes, stream);
                break;
            case TransferDirection.PeerToPeer:
                CudaCopy.Peer(p.Destination.DeviceAddress + (ulong)p.DestinationOffset, p.Destination.Context,
                    p.Source.DeviceAddress + (ulong)p.SourceOffset, p.Source.Context, p.Bytes, stream);
                break;
            default:
                throw new InvalidOperationException($"no single copy for leg {leg}");
        }
    }

    public void Dispose()
    {
        // Nothing may be in flight when host memory is freed: a cancelled sample leaves copies queued.
        try { Context.Synchronize(); } catch (NnlException) { }
        try { Peer?.Synchronize(); } catch (NnlException) { }
        Pattern.Dispose();
        _peerAux?.Dispose();
        _aux.Dispose();
        _go.Dispose();
    }
}
