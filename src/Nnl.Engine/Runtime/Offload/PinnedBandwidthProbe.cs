using Nnl.Engine.Cuda;

namespace Nnl.Engine.Runtime.Offload;

/// <summary>
/// The pinned host-to-device bandwidth the offload bound is computed from, measured by the engine
/// itself at import: 64 MiB copies from pinned memory, timed with events after a warm-up; the median
/// of the samples, in decimal GB/s.
/// </summary>
public static class PinnedBandwidthProbe
{
    public static double MeasureGBps(CudaContext context, long bytes = 64L << 20, int warmup = 3, int samples = 10)
    {
        using var host = new HostBuffer(context, bytes, HostMemoryKind.Pinned);
        using var device = new DeviceBuffer(context, bytes);
        using var stream = new CudaStream(context);
        using var start = new CudaEvent(context);
        using var end = new CudaEvent(context);
        new Random(17).NextBytes(host.AsSpan(0, (int)Math.Min(bytes, int.MaxValue)));
        for (int i = 0; i < warmup; i++) CudaCopy.HostToDevice(device.Pointer, host.Pointer, bytes, stream);
        var rates = new double[samples];
        for (int i = 0; i < samples; i++)
        {
            start.Record(stream);
            for (int k = 0; k < 4; k++) CudaCopy.HostToDevice(device.Pointer, host.Pointer, bytes, stream);
            end.Record(stream);
            end.Synchronize();
            rates[i] = 4.0 * bytes / (end.ElapsedMillisecondsSince(start) * 1e6);
        }
        return SampleStatistics.Median(rates);
    }
}
