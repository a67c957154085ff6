namespace Nnl.Engine.Transfer;

/// <summary>
/// Turns sample times into the figures of a result. Sample i took t_i milliseconds for c copies of b
/// bytes; its bandwidth is f·b·c / t_i in decimal GB/s (f = 2 for device-to-device: read plus
/// written) and its time per copy is t_i / c. Min, median and max are taken over the samples of each
/// series separately; the median of an even count is the mean of the two middle values.
/// </summary>
public readonly record struct TransferStatistics(
    double MinGBps, double MedianGBps, double MaxGBps,
    double MinMicroseconds, double MedianMicroseconds, double MaxMicroseconds)
{
    public static TransferStatistics FromSamples(IReadOnlyList<double> sampleMilliseconds, long bytes, int copiesPerSample, int bytesCountedPerByte = 1)
    {
        if (sampleMilliseconds.Count == 0) throw new ArgumentException("no samples", nameof(sampleMilliseconds));
        if (copiesPerSample <= 0) throw new ArgumentOutOfRangeException(nameof(copiesPerSample));
        var gbps = sampleMilliseconds.Select(ms => GBps((double)bytes * bytesCountedPerByte * copiesPerSample, ms)).ToArray();
        var micros = sampleMilliseconds.Select(ms => ms * 1000.0 / copiesPerSample).ToArray();
        return new TransferStatistics(gbps.Min(), Median(gbps), gbps.Max(), micros.Min(), Median(micros), micros.Max());
    }

    /// <summary>Decimal GB/s: bytes / 10^9 per second.</summary>
    public static double GBps(double bytes, double milliseconds) =>
        milliseconds > 0 ? bytes / (milliseconds * 1e-3) / 1e9 : double.PositiveInfinity;

    public static double Median(IReadOnlyList<double> values)
    {
        if (values.Count == 0) throw new ArgumentException("no values", nameof(values));
        return SampleStatistics.Median(values);
    }
}
