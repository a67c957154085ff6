using System.Text;

namespace Nnl.BuildTools.Help;

/// <summary>One source line with its 1-based number, so every complaint can point at it.</summary>
public readonly record struct SourceLine(int Number, string Text);

/// <summary>A heading and everything under it up to the next heading of the same or a higher level.</summary>
public sealed class MarkdownSection(int level, string title, int line)
{
    public int Level { get; } = level;
    public string Title { get; } = title;
    public int Line { get; } = line;
    /// <summary>Lines directly under the heading, before the first sub-heading.</summary>
    public List<SourceLine> Body { get; } = [];
    public List<MarkdownSection> Children { get; } = [];
}

/// <summary>A run of body text: a paragraph (soft-wrapped lines) or a fenced code block.</summary>
public sealed record MarkdownBlock(int Line, string? FenceLanguage, string Text)
{
    public bool IsFence => FenceLanguage != null;
}

/// <summary>
/// Just enough Markdown for platyPS pages: YAML front matter, ATX headings (#, ##, ###) outside code
/// fences, paragraphs and fenced blocks. Anything richer (emphasis, links, lists) stays as text,
/// which is what Get-Help shows anyway.
/// </summary>
public sealed class MarkdownDocument
{
    private MarkdownDocument(string file, IReadOnlyDictionary<string, string> frontMatter, MarkdownSection root, int lineCount)
    {
        File = file;
        FrontMatter = frontMatter;
        Root = root;
        LineCount = lineCount;
    }

    public string File { get; }
    public IReadOnlyDictionary<string, string> FrontMatter { get; }
    /// <summary>Level-0 section holding the text before the first heading and all top headings.</summary>
    public MarkdownSection Root { get; }
    public int LineCount { get; }

    public static MarkdownDocument Load(string path) => Parse(System.IO.File.ReadAllText(path), path);

    public static MarkdownDocument Parse(string text, string file)
    {
        var lines = text.Replace("\r\n", "\n").Split('\n');
        int i = 0;
        var frontMatter = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        if (lines.Length > 0 && lines[0].Trim() == "---")
        {
            i = 1;
            for (; i < lines.Length && lines[i].Trim() != "---"; i++)
            {
                int colon = lines[i].IndexOf(':');
                if (lines[i].Trim().Length == 0) continue;
                if (colon <= 0) throw new HelpPageException(file, i + 1, $"front matter line is not 'key: value': '{lines[i]}'");
                frontMatter[lines[i][..colon].Trim()] = lines[i][(colon + 1)..].Trim();
            }
            if (i == lines.Length) throw new HelpPageException(file, 1, "front matter opened with '---' is never closed");
            i++;
        }

        var root = new MarkdownSection(0, "", 1);
        var stack = new Stack<MarkdownSection>();
        stack.Push(root);
        int fenceStart = 0;
        for (; i < lines.Length; i++)
        {
            string line = lines[i];
            if (IsFenceMarker(line))
                fenceStart = fenceStart == 0 ? i + 1 : 0;
            int level = fenceStart == 0 ? HeadingLevel(line) : 0;
            if (level > 0)
            {
                while (stack.Peek().Level >= level) stack.Pop();
                var section = new MarkdownSection(level, line[(level + 1)..].Trim(), i + 1);
                stack.Peek().Children.Add(section);
                stack.Push(section);
            }
            else
            {
                stack.Peek().Body.Add(new SourceLine(i + 1, line));
            }
        }
        if (fenceStart != 0) throw new HelpPageException(file, fenceStart, "code fence opened here is never closed");
        return new MarkdownDocument(file, frontMatter, root, lines.Length);
    }

    private static bool IsFenceMarker(string line) => line.TrimStart().StartsWith("```", StringComparison.Ordinal);

    private static int HeadingLevel(string line)
    {
        int n = 0;
        while (n < line.Length && line[n] == '#') n++;
        return n is >= 1 and <= 6 && n < line.Length && line[n] == ' ' ? n : 0;
    }

    /// <summary>
    /// Splits body lines into paragraphs and fences. Soft-wrapped lines join with a space; list items
    /// and lines ending in two spaces keep their line break, as Markdown renders them.
    /// </summary>
    public static List<MarkdownBlock> Blocks(IEnumerable<SourceLine> body)
    {
        var blocks = new List<MarkdownBlock>();
        StringBuilder? text = null;
        int start = 0;
        string? fence = null;
        void Flush()
        {
            if (text != null && text.Length > 0) blocks.Add(new MarkdownBlock(start, fence, text.ToString()));
            text = null;
            fence = null;
        }
        bool inFence = false;
        foreach (var (number, raw) in body)
        {
            string line = raw.TrimEnd();
            if (IsFenceMarker(line))
            {
                if (!inFence)
                {
                    Flush();
                    inFence = true;
                    fence = line.Trim()[3..].Trim();
                    text = new StringBuilder();
                    start = number;
                }
                else
                {
                    inFence = false;
                    // An empty fence is still a block: an example may show a command with no output.
                    blocks.Add(new MarkdownBlock(start, fence!, text!.ToString()));
                    text = null;
                    fence = null;
                }
                continue;
            }
            if (inFence)
            {
                if (text!.Length > 0) text.Append('\n');
                text.Append(raw);
                continue;
            }
            if (line.Length == 0)
            {
                Flush();
                continue;
            }
            if (text == null)
            {
                text = new StringBuilder(line.Trim());
                start = number;
            }
            else
            {
                bool hardBreak = raw.EndsWith("  ", StringComparison.Ordinal) || IsListItem(line);
                text.Append(hardBreak ? '\n' : ' ').Append(line.Trim());
            }
        }
        Flush();
        return blocks;
    }

    private static bool IsListItem(string line)
    {
        string t = line.TrimStart();
        if (t.StartsWith("- ", StringComparison.Ordinal) || t.StartsWith("* ", StringComparison.Ordinal)) return true;
        int d = 0;
        while (d < t.Length && char.IsAsciiDigit(t[d])) d++;
        return d > 0 && d + 1 < t.Length && t[d] == '.' && t[d + 1] == ' ';
    }
}
