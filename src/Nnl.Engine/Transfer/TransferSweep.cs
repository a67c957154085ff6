using Nnl.Engine.Commands;
using Nnl.Engine.Cuda;

namespace Nnl.Engine.Transfer;

/// <summary>
/// Runs the configurations of a sweep over its sizes: allocates each configuration's buffers once at
/// the largest size, measures every size, writes one result per lane and point, frees everything.
/// </summary>
internal sealed class TransferSweep
{
    private const int ProgressId = 1;
    private const string Activity = "Measure-NnlTransfer";
    private readonly TransferProbe _probe;
    private readonly TransferSampling _sampling;
    private readonly int _streams;
    private readonly long? _chunkBytes;
    private readonly string _deviceName;
    private readonly ICommandSink _sink;

    public TransferSweep(TransferProbe probe, TransferSampling sampling, int streams, long? chunkBytes, string deviceName, ICommandSink sink)
    {
        _probe = probe;
        _sampling = sampling;
        _streams = streams;
        _chunkBytes = chunkBytes;
        _deviceName = deviceName;
        _sink = sink;
    }

    private CudaContext Context => _probe.Context;

    public void Run(IReadOnlyList<TransferConfig> configs, IReadOnlyList<long> sizes)
    {
        int total = configs.Count * sizes.Count, done = 0;
        foreach (var config in configs)
        {
            _sink.Cancellation.ThrowIfCancellationRequested();
            using var owned = new Owned();
            if (config.Direction == TransferDirection.PeerToPeer && !PreparePeerAccess(config)) { done += sizes.Count; continue; }
            try
            {
                var lanes = BuildLanes(config, sizes.Max(), owned);
                foreach (long bytes in sizes)
                {
                    _sink.WriteProgress(new NnlProgress(ProgressId, Activity, $"{config} {Describe(bytes)}", done * 100 / total,
                        $"point {done + 1} of {total}"));
                    foreach (var lane in lanes.Lanes) lane.Lane.Pieces = TransferLane.Chunks(lane.Source, lane.Destination, bytes, _streams, _chunkBytes);
                    foreach (var lane in lanes.Lanes)
                    {
                        lane.Lane.Checks = [new TransferPiece(lane.Source, 0, lane.Destination, 0, bytes)];
                        lane.Lane.Seeds = [(uint)Random.Shared.Next()];
                    }
                    var measured = _probe.MeasurePoint(lanes.Lanes.Select(l => l.Lane).ToArray(), config.Mechanism, Spins(config), _sink.Cancellation);
                    for (int l = 0; l < lanes.Lanes.Count; l++)
                        Write(config, lanes.Lanes[l].Lane.Leg, bytes, measured[l].Milliseconds, measured[l].Mismatches,
                            TransferLane.ChunkBytes(bytes, _streams, _chunkBytes));
                    done++;
                }
            }
            finally
            {
                if (config.Direction == TransferDirection.PeerToPeer && config.PeerAccess == true) DisablePeer();
            }
        }
        _sink.WriteProgress(new NnlProgress(ProgressId, Activity, "done", 100, Completed: true));
    }

    // Pageable copies block the host while the driver stages them: a spin would only hide that wait.
    private static bool Spins(TransferConfig config) => config.HostMemory != HostMemoryKind.Pageable;

    private void Write(TransferConfig config, TransferDirection leg, long bytes, double[] ms, long mismatches, long chunkBytes)
    {
        var stats = TransferStatistics.FromSamples(ms, bytes, _sampling.CopiesPerSample, config.Direction == TransferDirection.DeviceToDevice ? 2 : 1);
        if (mismatches != 0)
            _sink.WriteWarning($"{config} {bytes:N0} bytes: {mismatches:N0} bytes arrived wrong; the figures of this point are not trustworthy");
        _sink.WriteRecord(new NnlTransferResult(
            Device: Context.Ordinal, DeviceName: _deviceName, Direction: config.Direction, Leg: leg, HostMemory: config.HostMemory,
            Mechanism: config.Mechanism, Streams: _streams, ChunkBytes: chunkBytes, Bytes: bytes,
            Iterations: _sampling.Iterations, CopiesPerSample: _sampling.CopiesPerSample,
            MinGBps: stats.MinGBps, MedianGBps: stats.MedianGBps, MaxGBps: stats.MaxGBps,
            MinMicroseconds: stats.MinMicroseconds, MedianMicroseconds: stats.MedianMicroseconds, MaxMicroseconds: stats.MaxMicroseconds,
            Verified: mismatches == 0,
            PeerDevice: config.Direction == TransferDirection.PeerToPeer ? _probe.Peer?.Ordinal : null,
            PeerAccess: config.PeerAccess));
    }

    private sealed record LaneSpec(TransferLane Lane, TransferRegion Source, TransferRegion Destination);

    private sealed record LaneSet(IReadOnlyList<LaneSpec> Lanes);

    private LaneSet BuildLanes(TransferConfig config, long maxBytes, Owned owned)
    {
        CudaStream[] Streams() => Enumerable.Range(0, _streams).Select(_ => owned.Add(new CudaStream(Context))).ToArray();
        TransferRegion Device(CudaContext ctx) => TransferRegion.Of(owned.Add(new DeviceBuffer(ctx, maxBytes)));
        TransferRegion Host() => TransferRegion.Of(owned.Add(AllocateHost(Context, maxBytes, config.HostMemory!.Value)), Context);
        LaneSpec Lane(TransferDirection leg, TransferRegion src, TransferRegion dst) => new(owned.Add(new TransferLane(leg, Streams())), src, dst);

        return config.Direction switch
        {
            TransferDirection.HostToDevice => new LaneSet([Lane(TransferDirection.HostToDevice, Host(), Device(Context))]),
            TransferDirection.DeviceToHost => new LaneSet([Lane(TransferDirection.DeviceToHost, Device(Context), Host())]),
            TransferDirection.Bidirectional => new LaneSet([
                Lane(TransferDirection.HostToDevice, Host(), Device(Context)),
                Lane(TransferDirection.DeviceToHost, Device(Context), Host())]),
            TransferDirection.DeviceToDevice => new LaneSet([Lane(TransferDirection.DeviceToDevice, Device(Context), Device(Context))]),
            TransferDirection.PeerToPeer => new LaneSet([Lane(TransferDirection.PeerToPeer, Device(Context), Device(_probe.Peer!))]),
            _ => throw new InvalidOperationException(config.Direction.ToString()),
        };
    }

    internal static HostBuffer AllocateHost(CudaContext context, long bytes, HostMemoryKind kind)
    {
        try { return new HostBuffer(context, bytes, kind); }
        catch (OutOfMemoryException) { throw NnlTransferException.HostAllocationFailed(bytes, kind.ToString()); }
    }

    /// <summary>Sets peer access as the configuration asks; false when it cannot be had (reported as a warning).</summary>
    private bool PreparePeerAccess(TransferConfig config)
    {
        var peer = _probe.Peer!;
        if (config.PeerAccess == true)
        {
            if (!Context.CanAccessPeer(peer))
            {
                _sink.WriteWarning($"GPU {Context.Ordinal} cannot access GPU {peer.Ordinal} directly: {config} skipped");
                return false;
            }
            Context.EnablePeerAccess(peer);
        }
        else DisablePeer();
        return true;
    }

    private void DisablePeer()
    {
        try { Context.DisablePeerAccess(_probe.Peer!); }
        catch (NnlCudaException e) when (e.ErrorName == "CUDA_ERROR_PEER_ACCESS_NOT_ENABLED") { }
    }

    internal static string Describe(long bytes) =>
        bytes >= 1_000_000_000 ? $"{bytes / 1e9:0.###} GB" : bytes >= 1_000_000 ? $"{bytes / 1e6:0.###} MB" : bytes >= 1000 ? $"{bytes / 1e3:0.###} KB" : $"{bytes} B";

    /// <summary>Everything a configuration allocated, freed in reverse order (after the probe's synchronise).</summary>
    internal sealed class Owned : IDisposable
    {
        private readonly List<IDisposable> _items = new();

        public T Add<T>(T item) where T : IDisposable
        {
            _items.Add(item);
            return item;
        }

        public void Dispose()
        {
            if (_items.OfType<CudaStream>().FirstOrDefault() is { } s)
                try { s.Context.Synchronize(); } catch (NnlException) { }
            for (int i = _items.Count - 1; i >= 0; i--) _items[i].Dispose();
            _items.Clear();
        }
    }
}
