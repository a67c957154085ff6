using System.Xml.Linq;
using Nnl.Engine.Benchmarks;

namespace Nnl.Engine.Tests.Benchmarks;

public sealed class InferenceChartTests
{
    private static NnlInferenceBenchmark Point(long budgetGiB, int depth, double median, double? bound, Random rng) => new()
    {
        Model = "llama-2-13b <fp16> & co",
        Device = "Cuda:0",
        BudgetBytes = budgetGiB << 30,
        PrefetchDepth = depth,
        BatchSize = 1,
        PromptLength = 32,
        Tokens = 16,
        Repetitions = 3,
        Nodes = 43,
        WeightBytes = 26_031_728_640,
        PrefillTokensPerSecond = 100,
        DecodeMillisecondsPerTokenMedian = median,
        DecodeMillisecondsPerTokenMin = median * (1 - rng.NextDouble() * 0.1),
        DecodeMillisecondsPerTokenMax = median * (1 + rng.NextDouble() * 0.1),
        DecodeTokensPerSecond = 1000 / median,
        BoundMillisecondsPerToken = bound,
        LoadSeconds = 1,
    };

    [Fact]
    public void Chart_is_well_formed_svg_with_a_point_per_record_and_the_bound()
    {
        var rng = new Random(8);
        var budgets = new long[] { 2, 4, 8, 16, 26 };
        var points = new List<NnlInferenceBenchmark>();
        foreach (var depth in new[] { 1, 3 })
            foreach (var b in budgets)
            {
                var bound = Math.Max(0, 26 - b) * 1e9 / 55e9 * 1000;
                points.Add(Point(b, depth, bound * (1.1 + rng.NextDouble()) + 5, b >= 26 ? null : bound, rng));
            }

        var doc = XDocument.Parse(InferenceChart.Svg(points));
        XNamespace ns = "http://www.w3.org/2000/svg";
        Assert.Equal(ns + "svg", doc.Root!.Name);
        Assert.Equal(points.Count, doc.Descendants(ns + "circle").Count(c => (string?)c.Attribute("class") == InferenceChart.MeasuredClass));
        // One bound marker per budget that has a bound (shared by both prefetch depths).
        Assert.Equal(budgets.Length - 1, doc.Descendants(ns + "rect").Count(r => (string?)r.Attribute("class") == InferenceChart.BoundClass));
        var texts = doc.Descendants(ns + "text").Select(t => t.Value).ToList();
        Assert.Contains("GPU memory budget (GiB)", texts);
        Assert.Contains("decode time per token (ms)", texts);
        Assert.Contains(texts, t => t.Contains("prefetch 1", StringComparison.Ordinal));
        Assert.Contains(texts, t => t.Contains("prefetch 3", StringComparison.Ordinal));
        Assert.Contains(texts, t => t.StartsWith("PCIe bound", StringComparison.Ordinal));
        Assert.Contains(texts, t => t.Contains("<fp16> & co", StringComparison.Ordinal)); // escaped in the file, intact when read

        // Points sit inside the plot and lower times are drawn higher.
        var circles = doc.Descendants(ns + "circle").Select(c => (X: (double)c.Attribute("cx")!, Y: (double)c.Attribute("cy")!)).ToList();
        Assert.All(circles, c => { Assert.InRange(c.X, 80, 800 - 230); Assert.InRange(c.Y, 50, 440 - 60); });
        var slowest = points.IndexOf(points.MaxBy(p => p.DecodeMillisecondsPerTokenMedian)!);
        var fastest = points.IndexOf(points.MinBy(p => p.DecodeMillisecondsPerTokenMedian)!);
        Assert.True(circles[slowest].Y < circles[fastest].Y);
    }

    [Fact]
    public void Axis_ranges_are_round_and_cover_the_data()
    {
        var rng = new Random(5);
        for (var i = 0; i < 200; i++)
        {
            var max = Math.Exp(rng.NextDouble() * 14 - 4);
            var (lo, hi, step) = InferenceChart.NiceRange(0, max);
            Assert.Equal(0, lo);
            Assert.True(hi >= max, $"{hi} < {max}");
            Assert.InRange(hi / step, 2, 12);
        }
    }
}
