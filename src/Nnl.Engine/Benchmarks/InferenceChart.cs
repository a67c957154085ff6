using System.Globalization;
using System.Security;
using System.Text;

namespace Nnl.Engine.Benchmarks;

/// <summary>
/// An SVG line chart of a budget sweep: decode milliseconds per token (median, with min–max
/// whiskers) against the GPU memory budget, one line per prefetch depth / batch size, and the PCIe
/// bound as a dashed line. Plain SVG 1.1 that browsers, GitHub and Inkscape show as it is.
/// Points without a budget (the CPU, or "all free memory") are placed by their order instead.
/// </summary>
public static class InferenceChart
{
    private const double Width = 800, Height = 440, Left = 80, Right = 230, Top = 50, Bottom = 60;
    private static readonly string[] Colors = { "#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf" };

    /// <summary>CSS class of the measured points and of the bound's points (tests count them).</summary>
    public const string MeasuredClass = "measured", BoundClass = "bound";

    public static string Svg(IReadOnlyList<NnlInferenceBenchmark> points, string? title = null)
    {
        if (points.Count == 0) throw new NnlArgumentException("InputObject", "There are no benchmark points to chart.");
        var byBudget = points.All(p => p.BudgetBytes is not null);
        double X(NnlInferenceBenchmark p, int i) => byBudget ? p.BudgetBytes!.Value / (double)(1L << 30) : i + 1;

        var xs = points.Select(X).ToArray();
        var ys = points.SelectMany(p => new[] { p.DecodeMillisecondsPerTokenMax, p.BoundMillisecondsPerToken ?? 0 }).ToArray();
        var (x0, x1, xStep) = NiceRange(byBudget ? 0 : 0, xs.Max());
        var (y0, y1, yStep) = NiceRange(0, ys.Max());
        var plotW = Width - Left - Right;
        var plotH = Height - Top - Bottom;
        double Px(double x) => Left + (x - x0) / (x1 - x0) * plotW;
        double Py(double y) => Top + plotH - (y - y0) / (y1 - y0) * plotH;
        string F(double v) => v.ToString("0.##", CultureInfo.InvariantCulture);

        var svg = new StringBuilder();
        svg.AppendLine("<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
        svg.AppendLine($"<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"{F(Width)}\" height=\"{F(Height)}\" viewBox=\"0 0 {F(Width)} {F(Height)}\" font-family=\"sans-serif\" font-size=\"12\">");
        svg.AppendLine($"  <rect x=\"0\" y=\"0\" width=\"{F(Width)}\" height=\"{F(Height)}\" fill=\"white\"/>");
        var heading = title ?? $"{points[0].Model} on {points[0].Device}: decode time per token";
        svg.AppendLine($"  <text x=\"{F(Width / 2)}\" y=\"28\" text-anchor=\"middle\" font-size=\"15\" font-weight=\"bold\">{Escape(heading)}</text>");

        // Grid, ticks and tick labels.
        svg.AppendLine("  <g class=\"axes\" stroke=\"#ccc\" stroke-width=\"1\">");
        for (var y = y0; y <= y1 + yStep / 2; y += yStep)
            svg.AppendLine($"    <line x1=\"{F(Left)}\" y1=\"{F(Py(y))}\" x2=\"{F(Left + plotW)}\" y2=\"{F(Py(y))}\"/>");
        for (var x = x0; x <= x1 + xStep / 2; x += xStep)
            svg.AppendLine($"    <line x1=\"{F(Px(x))}\" y1=\"{F(Top)}\" x2=\"{F(Px(x))}\" y2=\"{F(Top + plotH)}\"/>");
        svg.AppendLine("  </g>");
        svg.AppendLine($"  <rect x=\"{F(Left)}\" y=\"{F(Top)}\" width=\"{F(plotW)}\" height=\"{F(plotH)}\" fill=\"none\" stroke=\"black\"/>");
        svg.AppendLine("  <g class=\"tick-labels\" fill=\"black\">");
        for (var y = y0; y <= y1 + yStep / 2; y += yStep)
            svg.AppendLine($"    <text x=\"{F(Left - 6)}\" y=\"{F(Py(y) + 4)}\" text-anchor=\"end\">{F(y)}</text>");
        for (var x = x0; x <= x1 + xStep / 2; x += xStep)
            svg.AppendLine($"    <text x=\"{F(Px(x))}\" y=\"{F(Top + plotH + 18)}\" text-anchor=\"middle\">{F(x)}</text>");
        svg.AppendLine("  </g>");
        var xLabel = byBudget ? "GPU memory budget (GiB)" : "sweep point";
        svg.AppendLine($"  <text x=\"{F(Left + plotW / 2)}\" y=\"{F(Height - 18)}\" text-anchor=\"middle\">{xLabel}</text>");
        svg.AppendLine($"  <text x=\"20\" y=\"{F(Top + plotH / 2)}\" text-anchor=\"middle\" transform=\"rotate(-90 20 {F(Top + plotH / 2)})\">decode time per token (ms)</text>");

        // Measured lines, one per prefetch depth / batch size / prompt length.
        var indexed = points.Select((p, i) => (P: p, X: xs[i])).ToList();
        var groups = indexed.GroupBy(q => (q.P.PrefetchDepth, q.P.BatchSize, q.P.PromptLength)).ToList();
        var legend = new List<(string Label, string Color, bool Dashed)>();
        for (var g = 0; g < groups.Count; g++)
        {
            var color = Colors[g % Colors.Length];
            var members = groups[g].OrderBy(q => q.X).ToList();
            var key = groups[g].Key;
            // Name only what tells the lines apart.
            var label = "measured"
                + (key.PrefetchDepth is { } d && groups.Select(x => x.Key.PrefetchDepth).Distinct().Count() > 1 ? $", prefetch {d}" : "")
                + (groups.Select(x => x.Key.BatchSize).Distinct().Count() > 1 ? $", batch {key.BatchSize}" : "")
                + (groups.Select(x => x.Key.PromptLength).Distinct().Count() > 1 ? $", prompt {key.PromptLength}" : "");
            legend.Add((label, color, false));
            svg.AppendLine($"  <g class=\"series\" stroke=\"{color}\" fill=\"{color}\">");
            if (members.Count > 1)
                svg.AppendLine($"    <polyline fill=\"none\" stroke-width=\"2\" points=\"{string.Join(" ", members.Select(q => $"{F(Px(q.X))},{F(Py(q.P.DecodeMillisecondsPerTokenMedian))}"))}\"/>");
            foreach (var q in members)
            {
                var px = Px(q.X);
                svg.AppendLine($"    <line stroke-width=\"1\" x1=\"{F(px)}\" y1=\"{F(Py(q.P.DecodeMillisecondsPerTokenMin))}\" x2=\"{F(px)}\" y2=\"{F(Py(q.P.DecodeMillisecondsPerTokenMax))}\"/>");
                svg.AppendLine($"    <circle class=\"{MeasuredClass}\" cx=\"{F(px)}\" cy=\"{F(Py(q.P.DecodeMillisecondsPerTokenMedian))}\" r=\"4\"><title>{Escape(Tooltip(q.P))}</title></circle>");
            }
            svg.AppendLine("  </g>");
        }

        // The PCIe bound: one value per x (the same for every prefetch depth).
        var bounds = indexed.Where(q => q.P.BoundMillisecondsPerToken is not null)
            .GroupBy(q => q.X).Select(g => (X: g.Key, Y: g.First().P.BoundMillisecondsPerToken!.Value)).OrderBy(b => b.X).ToList();
        if (bounds.Count > 0)
        {
            legend.Add(("PCIe bound", "#d62728", true));
            svg.AppendLine("  <g class=\"series\" stroke=\"#d62728\" fill=\"#d62728\">");
            if (bounds.Count > 1)
                svg.AppendLine($"    <polyline fill=\"none\" stroke-width=\"2\" stroke-dasharray=\"6 4\" points=\"{string.Join(" ", bounds.Select(b => $"{F(Px(b.X))},{F(Py(b.Y))}"))}\"/>");
            foreach (var b in bounds)
                svg.AppendLine($"    <rect class=\"{BoundClass}\" x=\"{F(Px(b.X) - 3.5)}\" y=\"{F(Py(b.Y) - 3.5)}\" width=\"7\" height=\"7\"><title>bound {F(b.Y)} ms/token</title></rect>");
            svg.AppendLine("  </g>");
        }

        svg.AppendLine("  <g class=\"legend\">");
        for (var i = 0; i < legend.Count; i++)
        {
            var (label, color, dashed) = legend[i];
            var ly = Top + 10 + i * 20;
            var lx = Width - Right + 14;
            svg.AppendLine($"    <line x1=\"{F(lx)}\" y1=\"{F(ly)}\" x2=\"{F(lx + 24)}\" y2=\"{F(ly)}\" stroke=\"{color}\" stroke-width=\"2\"{(dashed ? " stroke-dasharray=\"6 4\"" : "")}/>");
            svg.AppendLine($"    <text x=\"{F(lx + 30)}\" y=\"{F(ly + 4)}\" font-size=\"11\">{Escape(label)}</text>");
        }
        svg.AppendLine("  </g>");
        svg.AppendLine("</svg>");
        return svg.ToString();
    }

    public static void Write(IReadOnlyList<NnlInferenceBenchmark> points, string path, string? title = null) =>
        File.WriteAllText(path, Svg(points, title), new UTF8Encoding(false));

    private static string Tooltip(NnlInferenceBenchmark p) =>
        $"{(p.BudgetBytes is { } b ? $"budget {b / (double)(1L << 30):0.##} GiB: " : "")}median {p.DecodeMillisecondsPerTokenMedian:0.###} ms/token (mean {p.DecodeMillisecondsPerTokenMean:0.###}, min {p.DecodeMillisecondsPerTokenMin:0.###}, max {p.DecodeMillisecondsPerTokenMax:0.###})";

    private static string Escape(string s) => SecurityElement.Escape(s) ?? "";

    /// <summary>An axis from <paramref name="min"/> to a round number at or above <paramref name="max"/>, with 4–10 round steps.</summary>
    internal static (double Min, double Max, double Step) NiceRange(double min, double max)
    {
        if (!(max > min)) max = min + 1;
        var raw = (max - min) / 5;
        var magnitude = Math.Pow(10, Math.Floor(Math.Log10(raw)));
        var step = new[] { 1.0, 2, 2.5, 5, 10 }.Select(f => f * magnitude).First(s => s >= raw);
        var top = Math.Ceiling(max / step) * step;
        if (top < max * 1.02) top += step; // leave room above the highest point
        return (min, top, step);
    }
}
