using System.Text;

namespace Nnl.BuildTools.Help;

/// <summary>
/// Turns docs/about_X.md (platyPS about format: "# about_X", then "## SHORT DESCRIPTION",
/// "## LONG DESCRIPTION", ...) into the plain text Get-Help about_X prints: headings in capitals at
/// the margin, text wrapped at 80 columns and indented four spaces, code indented eight.
/// </summary>
public static class AboutTopicWriter
{
    private const int Width = 80;

    public static string ToText(MarkdownDocument doc)
    {
        var titles = doc.Root.Children;
        string expected = Path.GetFileNameWithoutExtension(doc.File);
        if (titles.Count != 1 || titles[0].Level != 1 || !titles[0].Title.Equals(expected, StringComparison.OrdinalIgnoreCase))
            throw new HelpPageException(doc.File, titles.Count > 0 ? titles[0].Line : 1, $"an about page has exactly one '# {expected}' title");
        var title = titles[0];
        if (!title.Children.Any(c => c.Title.Equals("SHORT DESCRIPTION", StringComparison.OrdinalIgnoreCase)))
            throw new HelpPageException(doc.File, title.Line, "missing '## SHORT DESCRIPTION' section");

        var text = new StringBuilder();
        text.Append("TOPIC\n    ").Append(title.Title.ToLowerInvariant()).Append("\n\n");
        foreach (var section in title.Children)
            AppendSection(text, section, doc.File);
        return text.ToString().TrimEnd() + "\n";
    }

    private static void AppendSection(StringBuilder text, MarkdownSection section, string file)
    {
        if (section.Level == 2) text.Append(section.Title.ToUpperInvariant()).Append('\n');
        else text.Append("    ").Append(section.Title).Append('\n');
        foreach (var block in MarkdownDocument.Blocks(section.Body))
        {
            if (block.IsFence)
                foreach (var line in block.Text.Split('\n')) text.Append("        ").Append(line.TrimEnd()).Append('\n');
            else
                foreach (var line in block.Text.Split('\n')) Wrap(text, line, indent: 4);
            text.Append('\n');
        }
        foreach (var child in section.Children) AppendSection(text, child, file);
    }

    /// <summary>Greedy word wrap; list items hang their continuation lines under the item text.</summary>
    private static void Wrap(StringBuilder text, string line, int indent)
    {
        string first = new(' ', indent);
        string rest = first;
        string body = line.Trim();
        if (body.StartsWith("- ", StringComparison.Ordinal) || body.StartsWith("* ", StringComparison.Ordinal)) rest = new string(' ', indent + 2);
        var current = new StringBuilder(first);
        bool empty = true;
        foreach (var word in body.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (!empty && current.Length + 1 + word.Length > Width)
            {
                text.Append(current.ToString().TrimEnd()).Append('\n');
                current.Clear().Append(rest);
                empty = true;
            }
            if (!empty) current.Append(' ');
            current.Append(word);
            empty = false;
        }
        text.Append(current.ToString().TrimEnd()).Append('\n');
    }
}
