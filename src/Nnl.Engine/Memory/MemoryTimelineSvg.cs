using System.Globalization;
using System.Text.RegularExpressions;
using System.Xml;

namespace Nnl.Engine.Memory;

/// <summary>One block's life on the timeline: where it lived, how big, for whom, from when to when.</summary>
public sealed record MemoryLifetime(long AllocationId, ulong Address, long Bytes, string Owner, double Start, double End);

/// <summary>
/// Draws a pool timeline as SVG: time (or event number) across, address up, one rectangle per
/// block lifetime coloured by owner (numbers in owner tags are folded, so "layer 3 weights" and
/// "layer 17 weights" share a colour), with a legend and labelled axes. Address gaps over 1 GiB
/// (separate reservations or segments) are squeezed out so the picture shows the memory in use.
/// </summary>
public static partial class MemoryTimelineSvg
{
    private const long GapSqueezeBytes = 1L << 30;

    private static readonly string[] Palette =
    [
        "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948",
        "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac", "#1f77b4", "#8c564b",
    ];

    [GeneratedRegex(@"\d+")]
    private static partial Regex Digits();

    /// <summary>The colour group of an owner tag: its digits folded to N.</summary>
    public static string OwnerGroup(string owner) => owner.Length == 0 ? "(no owner)" : Digits().Replace(owner, "N");

    /// <summary>Block lifetimes from Allocate, Relocate and Free events; x is time in ms, or the event number.</summary>
    public static IReadOnlyList<MemoryLifetime> Lifetimes(IReadOnlyList<NnlMemoryEvent> events, bool byEventNumber = false)
    {
        var result = new List<MemoryLifetime>();
        if (events.Count == 0) return result;
        double X(NnlMemoryEvent e) => byEventNumber ? e.Sequence : e.TimeMilliseconds;
        double first = X(events[0]), last = X(events[^1]);
        var open = new Dictionary<long, (ulong Address, long Bytes, string Owner, double Start)>();
        foreach (var e in events)
        {
            switch (e.Operation)
            {
                case "Allocate":
                    open[e.AllocationId] = (e.Address, e.Bytes, e.Owner, X(e));
                    break;
                case "Relocate":
                    if (open.Remove(e.AllocationId, out var moved))
                        result.Add(new(e.AllocationId, moved.Address, moved.Bytes, moved.Owner, moved.Start, X(e)));
                    open[e.AllocationId] = (e.Address, e.Bytes, e.Owner, X(e));
                    break;
                case "Free":
                    // A free whose allocation the ring buffer dropped started before the first event kept.
                    var o = open.Remove(e.AllocationId, out var a) ? a : (e.Address, e.Bytes, e.Owner, first);
                    result.Add(new(e.AllocationId, o.Item1, o.Item2, o.Item3, o.Item4, X(e)));
                    break;
            }
        }
        foreach (var (id, a) in open) result.Add(new(id, a.Address, a.Bytes, a.Owner, a.Start, last));
        return result.OrderBy(l => l.Start).ThenBy(l => l.Address).ToList();
    }

    /// <summary>Writes the picture; returns the lifetimes drawn (one rect of class "block" each).</summary>
    public static IReadOnlyList<MemoryLifetime> Write(IReadOnlyList<NnlMemoryEvent> events, TextWriter output, string title,
        int width = 1400, int height = 800, bool byEventNumber = false)
    {
        if (width < 300 || height < 200) throw new NnlArgumentException(nameof(width), $"the picture needs at least 300 x 200 pixels, not {width} x {height}");
        var lifetimes = Lifetimes(events, byEventNumber);
        var inv = CultureInfo.InvariantCulture;
        string F(double v) => v.ToString("0.##", inv);

        // Layout: plot area left, legend right.
        const double left = 90, top = 50, bottom = 60, legendWidth = 260;
        double plotW = width - left - legendWidth - 20, plotH = height - top - bottom;
        double x0 = lifetimes.Count == 0 ? 0 : lifetimes.Min(l => l.Start);
        double x1 = lifetimes.Count == 0 ? 1 : Math.Max(lifetimes.Max(l => l.End), x0 + 1e-9);

        // Address axis: clusters of nearby blocks laid end to end.
        var clusters = new List<(ulong Start, ulong End, double Offset)>();
        foreach (var l in lifetimes.OrderBy(l => l.Address))
        {
            ulong end = l.Address + (ulong)l.Bytes;
            if (clusters.Count > 0 && l.Address <= clusters[^1].End + GapSqueezeBytes)
                clusters[^1] = (clusters[^1].Start, Math.Max(clusters[^1].End, end), clusters[^1].Offset);
            else clusters.Add((l.Address, end, clusters.Count == 0 ? 0 : clusters[^1].Offset + (clusters[^1].End - clusters[^1].Start)));
        }
        double span = clusters.Count == 0 ? 1 : clusters[^1].Offset + (clusters[^1].End - clusters[^1].Start);
        double Y(ulong address)
        {
            var c = clusters.Last(c => c.Start <= address);
            double offset = c.Offset + (address - c.Start);
            return top + plotH - offset / span * plotH;
        }
        double X(double v) => left + (v - x0) / (x1 - x0) * plotW;

        var groups = lifetimes.GroupBy(l => OwnerGroup(l.Owner))
            .Select(g => (Name: g.Key, Weight: g.Sum(l => l.Bytes * (l.End - l.Start)), Count: g.Count(), Bytes: g.Max(l => l.Bytes)))
            .OrderByDescending(g => g.Weight).ThenBy(g => g.Name, StringComparer.Ordinal).ToList();
        var colour = groups.Select((g, i) => (g.Name, Colour: Palette[i % Palette.Length])).ToDictionary(g => g.Name, g => g.Colour);

        using var xml = XmlWriter.Create(output, new XmlWriterSettings { Indent = false, OmitXmlDeclaration = false, CloseOutput = false });
        const string ns = "http://www.w3.org/2000/svg";
        xml.WriteStartElement("svg", ns);
        xml.WriteAttributeString("width", width.ToString(inv));
        xml.WriteAttributeString("height", height.ToString(inv));
        xml.WriteAttributeString("viewBox", $"0 0 {width} {height}");
        xml.WriteAttributeString("font-family", "sans-serif");
        xml.WriteElementString("title", ns, title);
        Rect(xml, 0, 0, width, height, "#ffffff", "background");
        Text(xml, left, 28, title, 16, "start", "bold");

        // Blocks.
        foreach (var l in lifetimes)
        {
            double x = X(l.Start), w = Math.Max(0.5, X(l.End) - x);
            double yTop = Y(l.Address + (ulong)l.Bytes), h = Math.Max(0.5, Y(l.Address) - yTop);
            xml.WriteStartElement("rect", ns);
            xml.WriteAttributeString("class", "block");
            xml.WriteAttributeString("x", F(x));
            xml.WriteAttributeString("y", F(yTop));
            xml.WriteAttributeString("width", F(w));
            xml.WriteAttributeString("height", F(h));
            xml.WriteAttributeString("fill", colour[OwnerGroup(l.Owner)]);
            xml.WriteAttributeString("stroke", "#00000033");
            xml.WriteAttributeString("stroke-width", "0.3");
            xml.WriteElementString("title", ns, $"{l.Owner} (#{l.AllocationId}): {Units.Bytes(l.Bytes)} at 0x{l.Address:x}, {F(l.Start)}–{F(l.End)}{(byEventNumber ? "" : " ms")}");
            xml.WriteEndElement();
        }

        // Axes, ticks and labels.
        Line(xml, left, top + plotH, left + plotW, top + plotH);
        Line(xml, left, top, left, top + plotH);
        for (int i = 0; i <= 5; i++)
        {
            double v = x0 + (x1 - x0) * i / 5, x = X(v);
            Line(xml, x, top + plotH, x, top + plotH + 5);
            Text(xml, x, top + plotH + 20, F(v), 11, "middle");
            double off = span * i / 5, y = top + plotH - plotH * i / 5;
            Line(xml, left - 5, y, left, y);
            Text(xml, left - 8, y + 4, Units.Bytes((long)off), 11, "end");
        }
        Text(xml, left + plotW / 2, height - 15, byEventNumber ? "event number" : "time (ms)", 13, "middle");
        xml.WriteStartElement("text", ns);
        xml.WriteAttributeString("class", "axis-label");
        xml.WriteAttributeString("x", "18");
        xml.WriteAttributeString("y", F(top + plotH / 2));
        xml.WriteAttributeString("font-size", "13");
        xml.WriteAttributeString("text-anchor", "middle");
        xml.WriteAttributeString("transform", $"rotate(-90 18 {F(top + plotH / 2)})");
        xml.WriteString(clusters.Count > 1 ? "address offset (gaps > 1 GiB removed)" : "address offset");
        xml.WriteEndElement();

        // Legend: one swatch per owner group.
        double lx = left + plotW + 20, ly = top;
        Text(xml, lx, ly, "owner", 13, "start", "bold");
        foreach (var g in groups)
        {
            ly += 20;
            if (ly > height - 20) break;
            Rect(xml, lx, ly - 11, 14, 14, colour[g.Name], "legend-swatch");
            Text(xml, lx + 20, ly, $"{g.Name} ({g.Count}, ≤ {Units.Bytes(g.Bytes)})", 11, "start");
        }
        xml.WriteEndElement();
        xml.Flush();
        return lifetimes;

        static void Rect(XmlWriter x, double rx, double ry, double w, double h, string fill, string cls)
        {
            x.WriteStartElement("rect", ns);
            x.WriteAttributeString("class", cls);
            x.WriteAttributeString("x", rx.ToString("0.##", CultureInfo.InvariantCulture));
            x.WriteAttributeString("y", ry.ToString("0.##", CultureInfo.InvariantCulture));
            x.WriteAttributeString("width", w.ToString("0.##", CultureInfo.InvariantCulture));
            x.WriteAttributeString("height", h.ToString("0.##", CultureInfo.InvariantCulture));
            x.WriteAttributeString("fill", fill);
            x.WriteEndElement();
        }

        static void Line(XmlWriter x, double ax, double ay, double bx, double by)
        {
            x.WriteStartElement("line", ns);
            x.WriteAttributeString("class", "axis");
            x.WriteAttributeString("x1", ax.ToString("0.##", CultureInfo.InvariantCulture));
            x.WriteAttributeString("y1", ay.ToString("0.##", CultureInfo.InvariantCulture));
            x.WriteAttributeString("x2", bx.ToString("0.##", CultureInfo.InvariantCulture));
            x.WriteAttributeString("y2", by.ToString("0.##", CultureInfo.InvariantCulture));
            x.WriteAttributeString("stroke", "#333333");
            x.WriteEndElement();
        }

        static void Text(XmlWriter x, double tx, double ty, string text, int size, string anchor, string? weight = null)
        {
            x.WriteStartElement("text", ns);
            x.WriteAttributeString("x", tx.ToString("0.##", CultureInfo.InvariantCulture));
            x.WriteAttributeString("y", ty.ToString("0.##", CultureInfo.InvariantCulture));
            x.WriteAttributeString("font-size", size.ToString(CultureInfo.InvariantCulture));
            x.WriteAttributeString("text-anchor", anchor);
            if (weight is not null) x.WriteAttributeString("font-weight", weight);
            x.WriteString(text);
            x.WriteEndElement();
        }
    }
}
