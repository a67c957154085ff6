using Nnl.Engine.Commands;
using Nnl.Engine.Cuda;

namespace Nnl.Engine.Transfer;

/// <summary>
/// The tensor pattern: a layer's tensors copied host-to-device one by one, each from its own pageable
/// allocation (what a layer-by-layer loader does), then each from its own pinned allocation, against
/// the same bytes packed into one pinned buffer and copied at once. All three land at the same
/// 256-byte-aligned offsets of one device buffer and are verified tensor by tensor.
/// </summary>
internal sealed class TensorPatternSweep
{
    private const int ProgressId = 1;
    private const string Activity = "Measure-NnlTransfer";
    private readonly TransferProbe _probe;
    private readonly TransferSampling _sampling;
    private readonly int _streams;
    private readonly string _deviceName;
    private readonly ICommandSink _sink;

    public TensorPatternSweep(TransferProbe probe, TransferSampling sampling, int streams, string deviceName, ICommandSink sink)
    {
        _probe = probe;
        _sampling = sampling;
        _streams = streams;
        _deviceName = deviceName;
        _sink = sink;
    }

    /// <summary>Offsets of the tensors when packed, each aligned to 256 bytes (as a tensor in a pool would be).</summary>
    public static long[] PackedOffsets(IReadOnlyList<long> sizes, out long packedBytes)
    {
        var offsets = new long[sizes.Count];
        long at = 0;
        for (int i = 0; i < sizes.Count; i++)
        {
            offsets[i] = at;
            at = (at + sizes[i] + 255) / 256 * 256;
        }
        packedBytes = at;
        return offsets;
    }

    public void Run(IReadOnlyList<long> sizes, string setName)
    {
        var ctx = _probe.Context;
        long payload = sizes.Sum();
        var offsets = PackedOffsets(sizes, out long packedBytes);
        var ways = new (string Label, HostMemoryKind Memory, bool Packed)[]
        {
            ("separate pageable tensors", HostMemoryKind.Pageable, false),
            ("separate pinned tensors", HostMemoryKind.Pinned, false),
            ("one packed pinned buffer", HostMemoryKind.Pinned, true),
        };
        double? separatePageable = null;
        for (int w = 0; w < ways.Length; w++)
        {
            _sink.Cancellation.ThrowIfCancellationRequested();
            var way = ways[w];
            _sink.WriteProgress(new NnlProgress(ProgressId, Activity, $"{setName}: {way.Label}", w * 100 / ways.Length));
            using var owned = new TransferSweep.Owned();
            var device = TransferRegion.Of(owned.Add(new DeviceBuffer(ctx, packedBytes)));
            var streams = Enumerable.Range(0, _streams).Select(_ => owned.Add(new CudaStream(ctx))).ToArray();
            var lane = owned.Add(new TransferLane(TransferDirection.HostToDevice, streams));
            var checks = new List<TransferPiece>();
            TransferRegion packedHost = default;
            if (way.Packed)
            {
                packedHost = TransferRegion.Of(owned.Add(TransferSweep.AllocateHost(ctx, packedBytes, way.Memory)), ctx);
                for (int i = 0; i < sizes.Count; i++) checks.Add(new TransferPiece(packedHost, offsets[i], device, offsets[i], sizes[i]));
            }
            else
            {
                for (int i = 0; i < sizes.Count; i++)
                {
                    var host = TransferRegion.Of(owned.Add(TransferSweep.AllocateHost(ctx, sizes[i], way.Memory)), ctx);
                    checks.Add(new TransferPiece(host, 0, device, offsets[i], sizes[i]));
                }
            }
            // Separate: one copy per tensor. Packed: one copy of the whole buffer, checked tensor by tensor.
            lane.Pieces = way.Packed ? [new TransferPiece(packedHost, 0, device, 0, packedBytes)] : checks;
            lane.Checks = checks;
            lane.Seeds = checks.Select(_ => (uint)Random.Shared.Next()).ToArray();
            var measured = _probe.MeasurePoint([lane], TransferMechanism.CopyEngine, spin: way.Memory != HostMemoryKind.Pageable, _sink.Cancellation)[0];
            var stats = TransferStatistics.FromSamples(measured.Milliseconds, payload, _sampling.CopiesPerSample);
            if (w == 0) separatePageable = stats.MedianGBps;
            if (measured.Mismatches != 0)
                _sink.WriteWarning($"{setName} {way.Label}: {measured.Mismatches:N0} bytes arrived wrong; the figures are not trustworthy");
            _sink.WriteRecord(new NnlTransferResult(
                Device: ctx.Ordinal, DeviceName: _deviceName, Direction: TransferDirection.HostToDevice, Leg: TransferDirection.HostToDevice,
                HostMemory: way.Memory, Mechanism: TransferMechanism.CopyEngine, Streams: _streams, ChunkBytes: way.Packed ? packedBytes : sizes.Max(),
                Bytes: payload, Iterations: _sampling.Iterations, CopiesPerSample: _sampling.CopiesPerSample,
                MinGBps: stats.MinGBps, MedianGBps: stats.MedianGBps, MaxGBps: stats.MaxGBps,
                MinMicroseconds: stats.MinMicroseconds, MedianMicroseconds: stats.MedianMicroseconds, MaxMicroseconds: stats.MaxMicroseconds,
                Verified: measured.Mismatches == 0,
                TensorCount: way.Packed ? 1 : sizes.Count, TensorSet: setName,
                SpeedupOverSeparate: way.Packed && separatePageable > 0 ? stats.MedianGBps / separatePageable : null));
        }
        _sink.WriteProgress(new NnlProgress(ProgressId, Activity, "done", 100, Completed: true));
    }
}
