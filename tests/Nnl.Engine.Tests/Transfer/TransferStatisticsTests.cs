using Nnl.Engine.Transfer;

namespace Nnl.Engine.Tests.Transfer;

public class TransferStatisticsTests
{
    [Fact]
    public void MedianOfOddAndEvenCounts()
    {
        Assert.Equal(2.0, TransferStatistics.Median([3.0, 1.0, 2.0]));
        Assert.Equal(2.5, TransferStatistics.Median([4.0, 1.0, 3.0, 2.0]));
        Assert.Equal(7.0, TransferStatistics.Median([7.0]));
        var rng = new Random(41);
        for (int n = 1; n < 40; n++)
        {
            var v = Enumerable.Range(0, n).Select(_ => rng.NextDouble() * 100).ToArray();
            double m = TransferStatistics.Median(v);
            // Half of the values (rounded down) lie strictly on each side of the median.
            Assert.True(v.Count(x => x < m) <= n / 2 && v.Count(x => x > m) <= n / 2, $"n={n}");
        }
    }

    [Fact]
    public void GigabytesPerSecondAreDecimal()
    {
        Assert.Equal(1.0, TransferStatistics.GBps(1e9, 1000), 12);
        // 16 copies of 64 MB (decimal) in 20 ms: 51.2 GB/s.
        Assert.Equal(51.2, TransferStatistics.GBps(16 * 64e6, 20), 9);
    }

    [Fact]
    public void SamplesBecomeMinMedianMaxOfBandwidthAndTimePerCopy()
    {
        var rng = new Random(5);
        long bytes = rng.Next(1000, 100_000_000);
        int copies = rng.Next(1, 32);
        double[] ms = Enumerable.Range(0, 7).Select(_ => 0.5 + rng.NextDouble() * 10).ToArray();
        var s = TransferStatistics.FromSamples(ms, bytes, copies);
        double fastest = ms.Min(), slowest = ms.Max();
        Assert.Equal(bytes * (double)copies / (fastest / 1000) / 1e9, s.MaxGBps, 9);
        Assert.Equal(bytes * (double)copies / (slowest / 1000) / 1e9, s.MinGBps, 9);
        Assert.Equal(fastest * 1000 / copies, s.MinMicroseconds, 9);
        Assert.Equal(slowest * 1000 / copies, s.MaxMicroseconds, 9);
        // Odd count: the median sample is one sample, so both medians describe it.
        double mid = ms.OrderBy(x => x).ElementAt(3);
        Assert.Equal(bytes * (double)copies / (mid / 1000) / 1e9, s.MedianGBps, 9);
        Assert.Equal(mid * 1000 / copies, s.MedianMicroseconds, 9);
        Assert.True(s.MinGBps <= s.MedianGBps && s.MedianGBps <= s.MaxGBps);
    }

    [Fact]
    public void DeviceToDeviceCountsBytesReadAndWritten()
    {
        double[] ms = [2.0, 3.0, 4.0];
        var once = TransferStatistics.FromSamples(ms, 1_000_000, 4);
        var twice = TransferStatistics.FromSamples(ms, 1_000_000, 4, bytesCountedPerByte: 2);
        Assert.Equal(2 * once.MedianGBps, twice.MedianGBps, 12);
        Assert.Equal(once.MedianMicroseconds, twice.MedianMicroseconds);
    }
}
