using Nnl.BuildTools.Help;

namespace Nnl.BuildTools.Surface;

/// <summary>A "### -Name" entry of a cmdlet page and whether it says anything about the parameter.</summary>
public sealed record DocumentedParameter(string Name, int Line, bool HasDescription);

/// <summary>
/// Reads only the PARAMETERS section of a cmdlet page, so the surface check can say exactly which
/// parameter lacks help even when build-help would stop at an earlier problem on the page.
/// </summary>
public static class DocumentedParameters
{
    public static IReadOnlyList<DocumentedParameter> Read(string path) => Read(MarkdownDocument.Load(path));

    public static IReadOnlyList<DocumentedParameter> Read(MarkdownDocument doc)
    {
        var section = doc.Root.Children.SelectMany(t => t.Children)
            .FirstOrDefault(s => s.Level == 2 && s.Title.Equals("PARAMETERS", StringComparison.OrdinalIgnoreCase));
        if (section == null) return [];
        return section.Children
            .Where(c => c.Title.StartsWith('-'))
            .Select(c => new DocumentedParameter(c.Title[1..].Trim(), c.Line,
                MarkdownDocument.Blocks(c.Body).Any(b => !b.IsFence && !b.Text.Contains("{{", StringComparison.Ordinal))))
            .ToList();
    }
}
