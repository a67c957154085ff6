using System.Globalization;

namespace Nnl.Engine.Commands;

/// <summary>
/// The text form of -ResidentLayers / --resident-layers: a block count, or "Auto" (as many as the
/// budget holds). Both surfaces parse it here so they accept the same words.
/// </summary>
public static class ResidentLayersArgument
{
    /// <summary>Null for "Auto" or nothing; the count otherwise.</summary>
    public static int? Parse(string? text, string parameter = "ResidentLayers")
    {
        if (text is null) return null;
        var s = text.Trim();
        if (s.Length == 0 || s.Equals("auto", StringComparison.OrdinalIgnoreCase)) return null;
        if (int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var n)) return n;
        throw new NnlArgumentException(parameter, $"'{text}' is not a layer count: give a number of transformer blocks (0 or more) or Auto");
    }
}
