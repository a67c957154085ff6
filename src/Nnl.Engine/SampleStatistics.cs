namespace Nnl.Engine;

/// <summary>The statistics every measurement in Nnl reports (transfers, benchmarks, pool replays, the engine's probe).</summary>
public static class SampleStatistics
{
    /// <summary>The median (mean of the two middle values for an even count); NaN when there are none.</summary>
    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.OrderBy(v => v).ToArray();
        if (sorted.Length == 0) return double.NaN;
        int mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }
}
