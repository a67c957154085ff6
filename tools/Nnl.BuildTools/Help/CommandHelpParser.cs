using System.Text.RegularExpressions;

namespace Nnl.BuildTools.Help;

/// <summary>
/// Reads a platyPS (schema 2.0.0) cmdlet page into <see cref="CommandHelp"/>. Strict on purpose: a
/// page that platyPS would render wrongly or Get-Help would show half-empty fails with file and line.
/// </summary>
public static partial class CommandHelpParser
{
    private static readonly string[] KnownSections =
        ["SYNOPSIS", "SYNTAX", "DESCRIPTION", "EXAMPLES", "PARAMETERS", "INPUTS", "OUTPUTS", "NOTES", "RELATED LINKS"];
    private static readonly string[] RequiredSections = ["SYNOPSIS", "SYNTAX", "DESCRIPTION", "EXAMPLES", "PARAMETERS", "OUTPUTS"];

    private static readonly string[] YamlKeys =
        ["Type", "Parameter Sets", "Aliases", "Required", "Position", "Default value", "Accept pipeline input", "Accept wildcard characters"];

    public static CommandHelp Load(string path) => Parse(MarkdownDocument.Load(path));

    public static CommandHelp Parse(string text, string file) => Parse(MarkdownDocument.Parse(text, file));

    public static CommandHelp Parse(MarkdownDocument doc)
    {
        string file = doc.File;
        var titles = doc.Root.Children;
        if (titles.Count != 1 || titles[0].Level != 1)
            throw new HelpPageException(file, titles.Count > 1 ? titles[1].Line : 1,
                "a cmdlet page has exactly one '# <Verb-Noun>' title, and every section under it is '## NAME'");
        var title = titles[0];
        string name = title.Title;
        if (!VerbNoun().IsMatch(name))
            throw new HelpPageException(file, title.Line, $"title '{name}' is not a Verb-Noun cmdlet name");
        string expected = Path.GetFileNameWithoutExtension(file);
        if (!string.Equals(name, expected, StringComparison.Ordinal))
            throw new HelpPageException(file, title.Line, $"title '{name}' does not match the file name '{expected}.md'");
        RejectStrayText(file, title.Body, "before the first '## ' section");

        var sections = new Dictionary<string, MarkdownSection>(StringComparer.Ordinal);
        foreach (var s in title.Children)
        {
            string key = s.Title.ToUpperInvariant();
            if (s.Level != 2 || !KnownSections.Contains(key))
                throw new HelpPageException(file, s.Line, $"unexpected heading '{new string('#', s.Level)} {s.Title}'; sections are {string.Join(", ", KnownSections.Select(k => "## " + k))}");
            if (!sections.TryAdd(key, s))
                throw new HelpPageException(file, s.Line, $"section '## {key}' appears twice (first at line {sections[key].Line})");
        }
        foreach (var required in RequiredSections)
            if (!sections.ContainsKey(required))
                throw new HelpPageException(file, title.Line, $"missing '## {required}' section");

        var synopsis = Paragraphs(file, sections["SYNOPSIS"], "## SYNOPSIS");
        var description = Paragraphs(file, sections["DESCRIPTION"], "## DESCRIPTION");
        var syntax = ReadSyntax(file, sections["SYNTAX"]);
        var examples = ReadExamples(file, sections["EXAMPLES"]);
        var parameters = ReadParameters(file, sections["PARAMETERS"]);
        var inputs = sections.TryGetValue("INPUTS", out var inSec) ? ReadTypes(file, inSec) : [];
        var outputs = ReadTypes(file, sections["OUTPUTS"]);
        if (outputs.Count == 0)
            throw new HelpPageException(file, sections["OUTPUTS"].Line, "'## OUTPUTS' names no type (use '### TypeName' headings)");
        var notes = sections.TryGetValue("NOTES", out var notesSec) ? Paragraphs(file, notesSec, "## NOTES", allowEmpty: true) : [];
        var links = ReadLinks(file, doc, sections.GetValueOrDefault("RELATED LINKS"));

        foreach (var set in syntax)
            if (set.ParameterSet != AllSets && !parameters.Any(p => p.Metadata.Any(m => m.AllSets || m.ParameterSets.Contains(set.ParameterSet, StringComparer.OrdinalIgnoreCase))) && parameters.Count > 0)
                throw new HelpPageException(file, sections["SYNTAX"].Line, $"parameter set '{set.ParameterSet}' has no parameter that lists it under 'Parameter Sets'");

        return new CommandHelp(name, file, synopsis, description, syntax, examples, parameters, inputs, outputs, notes, links);
    }

    /// <summary>Verb-Noun with capitals, as cmdlet pages are named (Get-NnlDevice.md, not getting-started.md).</summary>
    public static bool IsCmdletName(string name) => VerbNoun().IsMatch(name);

    /// <summary>The set name MAML and PowerShell use when a cmdlet declares none.</summary>
    public const string AllSets = "__AllParameterSets";

    private static List<string> Paragraphs(string file, MarkdownSection section, string what, bool allowEmpty = false)
    {
        if (section.Children.Count > 0)
            throw new HelpPageException(file, section.Children[0].Line, $"'{what}' takes text, not sub-headings");
        var paras = ParagraphsOf(file, section.Body);
        if (paras.Count == 0 && !allowEmpty)
            throw new HelpPageException(file, section.Line, $"'{what}' is empty");
        return paras;
    }

    private static List<string> ParagraphsOf(string file, IEnumerable<SourceLine> body)
    {
        var paras = new List<string>();
        foreach (var block in MarkdownDocument.Blocks(body))
        {
            if (block.Text.Contains("{{", StringComparison.Ordinal))
                throw new HelpPageException(file, block.Line, "unfilled platyPS placeholder '{{ ... }}'");
            paras.Add(block.Text);
        }
        return paras;
    }

    private static void RejectStrayText(string file, List<SourceLine> body, string where)
    {
        var stray = body.FirstOrDefault(l => l.Text.Trim().Length > 0);
        if (stray.Number != 0)
            throw new HelpPageException(file, stray.Number, $"text {where} belongs to no section");
    }

    private static List<SyntaxHelp> ReadSyntax(string file, MarkdownSection section)
    {
        var sets = new List<SyntaxHelp>();
        if (section.Children.Count == 0)
        {
            var fence = MarkdownDocument.Blocks(section.Body).FirstOrDefault(b => b.IsFence)
                ?? throw new HelpPageException(file, section.Line, "'## SYNTAX' has no code block with the syntax line");
            sets.Add(new SyntaxHelp(AllSets, true, fence.Text.Trim()));
            return sets;
        }
        RejectStrayText(file, section.Body, "between '## SYNTAX' and its first parameter set");
        foreach (var child in section.Children)
        {
            string setName = child.Title;
            bool isDefault = setName.EndsWith("(Default)", StringComparison.OrdinalIgnoreCase);
            if (isDefault) setName = setName[..^"(Default)".Length].Trim();
            var fence = MarkdownDocument.Blocks(child.Body).FirstOrDefault(b => b.IsFence)
                ?? throw new HelpPageException(file, child.Line, $"parameter set '{setName}' has no code block with its syntax line");
            sets.Add(new SyntaxHelp(setName, isDefault, fence.Text.Trim()));
        }
        return sets;
    }

    private static List<ExampleHelp> ReadExamples(string file, MarkdownSection section)
    {
        RejectStrayText(file, section.Body, "between '## EXAMPLES' and the first '### Example'");
        if (section.Children.Count == 0)
            throw new HelpPageException(file, section.Line, "'## EXAMPLES' has no '### Example 1: ...'");
        var examples = new List<ExampleHelp>();
        foreach (var child in section.Children)
        {
            if (child.Children.Count > 0)
                throw new HelpPageException(file, child.Children[0].Line, "headings below '### Example' are not allowed");
            var code = new List<string>();
            var remarks = new List<string>();
            foreach (var block in MarkdownDocument.Blocks(child.Body))
            {
                if (block.Text.Contains("{{", StringComparison.Ordinal))
                    throw new HelpPageException(file, block.Line, "unfilled platyPS placeholder '{{ ... }}'");
                if (block.IsFence && block.FenceLanguage is "powershell" or "pwsh" or "ps1" or "")
                    code.Add(block.Text.TrimEnd());
                else
                    remarks.Add(block.Text);
            }
            if (code.Count == 0)
                throw new HelpPageException(file, child.Line, $"example '{child.Title}' has no ```powershell code block");
            examples.Add(new ExampleHelp(child.Title, string.Join("\n\n", code), remarks));
        }
        return examples;
    }

    private static List<ParameterHelp> ReadParameters(string file, MarkdownSection section)
    {
        RejectStrayText(file, section.Body, "between '## PARAMETERS' and the first '### -Name'");
        var parameters = new List<ParameterHelp>();
        foreach (var child in section.Children)
        {
            if (child.Title.Equals("CommonParameters", StringComparison.OrdinalIgnoreCase)) continue;
            if (!child.Title.StartsWith('-') || child.Title.Length < 2 || child.Title.Contains(' '))
                throw new HelpPageException(file, child.Line, $"'### {child.Title}' is not a parameter heading ('### -Name' or '### CommonParameters')");
            string name = child.Title[1..];
            if (parameters.Any(p => p.Name.Equals(name, StringComparison.OrdinalIgnoreCase)))
                throw new HelpPageException(file, child.Line, $"parameter -{name} is documented twice");
            if (child.Children.Count > 0)
                throw new HelpPageException(file, child.Children[0].Line, $"headings below '### -{name}' are not allowed");
            var description = new List<string>();
            var metadata = new List<ParameterMetadata>();
            foreach (var block in MarkdownDocument.Blocks(child.Body))
            {
                if (block.Text.Contains("{{", StringComparison.Ordinal))
                    throw new HelpPageException(file, block.Line, "unfilled platyPS placeholder '{{ ... }}'");
                if (block.FenceLanguage == "yaml") metadata.Add(ReadYaml(file, name, block));
                else if (block.IsFence) description.Add(block.Text);
                else if (metadata.Count > 0)
                    throw new HelpPageException(file, block.Line, $"text after the yaml block of -{name}; the description goes before it");
                else description.Add(block.Text);
            }
            if (metadata.Count == 0)
                throw new HelpPageException(file, child.Line, $"parameter -{name} has no ```yaml block (Type, Parameter Sets, Required, Position, ...)");
            if (description.Count == 0)
                throw new HelpPageException(file, child.Line, $"parameter -{name} has no description");
            parameters.Add(new ParameterHelp(name, child.Line, description, metadata));
        }
        return parameters;
    }

    private static ParameterMetadata ReadYaml(string file, string parameter, MarkdownBlock block)
    {
        var values = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        var lines = block.Text.Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i].Trim();
            if (line.Length == 0) continue;
            int lineNumber = block.Line + 1 + i;
            int colon = line.IndexOf(':');
            if (colon <= 0)
                throw new HelpPageException(file, lineNumber, $"yaml line of -{parameter} is not 'Key: value': '{line}'");
            string key = line[..colon].Trim();
            // platyPS writes "Accepted values" for ValidateSet parameters and "Applicable" for providers: optional.
            if (!YamlKeys.Contains(key, StringComparer.OrdinalIgnoreCase) && !key.Equals("Applicable", StringComparison.OrdinalIgnoreCase)
                && !key.Equals("Accepted values", StringComparison.OrdinalIgnoreCase))
                throw new HelpPageException(file, lineNumber, $"unknown yaml key '{key}' for -{parameter}; expected {string.Join(", ", YamlKeys)}");
            values[key] = line[(colon + 1)..].Trim();
        }
        foreach (var key in YamlKeys)
            if (!values.ContainsKey(key))
                throw new HelpPageException(file, block.Line, $"yaml block of -{parameter} lacks '{key}:'");

        string type = values["Type"];
        if (type.Length == 0) throw new HelpPageException(file, block.Line, $"yaml block of -{parameter} has an empty Type");
        return new ParameterMetadata(
            type,
            List(values["Parameter Sets"]) is { Count: > 0 } sets ? sets : throw new HelpPageException(file, block.Line, $"-{parameter}: 'Parameter Sets' is empty (use (All))"),
            List(values["Aliases"]),
            Bool(values["Required"], "Required"),
            values["Position"] is { Length: > 0 } p && (p.Equals("Named", StringComparison.OrdinalIgnoreCase) || int.TryParse(p, out _))
                ? p : throw new HelpPageException(file, block.Line, $"-{parameter}: Position '{values["Position"]}' is neither Named nor a number"),
            values["Default value"] is { Length: > 0 } d ? d : "None",
            values["Accept pipeline input"] is { Length: > 0 } pipe ? pipe : "False",
            Bool(values["Accept wildcard characters"], "Accept wildcard characters"));

        bool Bool(string value, string key) => value.ToLowerInvariant() switch
        {
            "true" => true,
            "false" => false,
            _ => throw new HelpPageException(file, block.Line, $"-{parameter}: '{key}' is '{value}', expected True or False"),
        };
    }

    private static List<string> List(string value) =>
        value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();

    private static List<TypeHelp> ReadTypes(string file, MarkdownSection section)
    {
        var types = new List<TypeHelp>();
        if (section.Children.Count == 0)
        {
            // platyPS also accepts a bare type name as text ("None").
            foreach (var para in ParagraphsOf(file, section.Body)) types.Add(new TypeHelp(para, []));
            return types;
        }
        RejectStrayText(file, section.Body, $"between '## {section.Title}' and its first '### TypeName'");
        foreach (var child in section.Children)
            types.Add(new TypeHelp(child.Title, ParagraphsOf(file, child.Body)));
        return types;
    }

    private static List<RelatedLink> ReadLinks(string file, MarkdownDocument doc, MarkdownSection? section)
    {
        var links = new List<RelatedLink>();
        // Get-Help -Online opens the first link; platyPS puts the page's "online version" there.
        if (doc.FrontMatter.TryGetValue("online version", out var online) && online.Length > 0)
            links.Add(new RelatedLink("Online Version:", online));
        if (section == null) return links;
        foreach (var (number, raw) in section.Body)
        {
            string line = raw.Trim();
            if (line.Length == 0) continue;
            if (line.StartsWith("- ", StringComparison.Ordinal) || line.StartsWith("* ", StringComparison.Ordinal)) line = line[2..].Trim();
            var m = MarkdownLink().Match(line);
            if (m.Success) links.Add(new RelatedLink(m.Groups["text"].Value, m.Groups["uri"].Value));
            else if (line.Contains('[') || line.Contains("](", StringComparison.Ordinal))
                throw new HelpPageException(file, number, $"related link is not '[text](uri)': '{line}'");
            else links.Add(new RelatedLink(line, ""));
        }
        return links;
    }

    [GeneratedRegex(@"^[A-Z][A-Za-z]+-[A-Z][A-Za-z0-9]+$")]
    private static partial Regex VerbNoun();

    [GeneratedRegex(@"^\[(?<text>[^\]]+)\]\((?<uri>[^)]*)\)$")]
    private static partial Regex MarkdownLink();
}
