using System.Xml;
using System.Xml.Linq;

namespace Nnl.BuildTools.Help;

/// <summary>
/// Writes <see cref="CommandHelp"/> as MAML, the XML that Get-Help reads from
/// en-US/&lt;Assembly&gt;.dll-Help.xml: one command:command per cmdlet, laid out as platyPS's
/// New-ExternalHelp lays it out.
/// </summary>
public static class MamlWriter
{
    public static readonly XNamespace Msh = "http://msh";
    public static readonly XNamespace Maml = "http://schemas.microsoft.com/maml/2004/10";
    public static readonly XNamespace Command = "http://schemas.microsoft.com/maml/dev/command/2004/10";
    public static readonly XNamespace Dev = "http://schemas.microsoft.com/maml/dev/2004/10";
    public static readonly XNamespace MSHelp = "http://msdn.microsoft.com/mshelp";

    public static XDocument ToMaml(IEnumerable<CommandHelp> commands) =>
        new(new XDeclaration("1.0", "utf-8", null),
            new XElement(Msh + "helpItems", new XAttribute("schema", "maml"), commands.Select(ToCommand)));

    public static void Write(IEnumerable<CommandHelp> commands, string path)
    {
        var settings = new XmlWriterSettings { Indent = true, IndentChars = "  ", Encoding = new System.Text.UTF8Encoding(false) };
        using var writer = XmlWriter.Create(path, settings);
        ToMaml(commands).Save(writer);
    }

    public static XElement ToCommand(CommandHelp help) =>
        new(Command + "command",
            new XAttribute(XNamespace.Xmlns + "maml", Maml),
            new XAttribute(XNamespace.Xmlns + "command", Command),
            new XAttribute(XNamespace.Xmlns + "dev", Dev),
            new XAttribute(XNamespace.Xmlns + "MSHelp", MSHelp),
            new XElement(Command + "details",
                new XElement(Command + "name", help.Name),
                new XElement(Command + "verb", help.Verb),
                new XElement(Command + "noun", help.Noun),
                Description(help.Synopsis)),
            Description(help.Description),
            new XElement(Command + "syntax", help.Syntax.Select(s => SyntaxItem(help, s))),
            new XElement(Command + "parameters", help.Parameters.Select(p => Parameter(p, p.Metadata[0], inSyntax: false))),
            new XElement(Command + "inputTypes", Types(help.Inputs, Command + "inputType")),
            new XElement(Command + "returnValues", Types(help.Outputs, Command + "returnValue")),
            new XElement(Maml + "alertSet", new XElement(Maml + "alert", Paras(help.Notes))),
            new XElement(Command + "examples", help.Examples.Select(Example)),
            new XElement(Command + "relatedLinks", help.RelatedLinks.Select(l =>
                new XElement(Maml + "navigationLink",
                    new XElement(Maml + "linkText", l.Text),
                    // Relative links (other pages of these docs) mean nothing to Get-Help -Online.
                    new XElement(Maml + "uri", IsAbsoluteWebUri(l.Uri) ? l.Uri : "")))));

    /// <summary>
    /// One syntaxItem per parameter set, holding the parameters whose yaml lists the set (or (All)):
    /// positional ones by position first, then named ones in page order, as PowerShell prints syntax.
    /// </summary>
    private static XElement SyntaxItem(CommandHelp help, SyntaxHelp set)
    {
        var members = help.Parameters
            .Select(p => (Parameter: p, Meta: set.ParameterSet == CommandHelpParser.AllSets ? p.Metadata[0] : p.For(set.ParameterSet)))
            .Where(x => x.Meta != null)
            .Select((x, order) => (x.Parameter, Meta: x.Meta!, Order: order))
            .OrderBy(x => int.TryParse(x.Meta.Position, out int pos) ? pos : int.MaxValue)
            .ThenBy(x => x.Order);
        return new XElement(Command + "syntaxItem",
            new XElement(Maml + "name", help.Name),
            members.Select(x => Parameter(x.Parameter, x.Meta, inSyntax: true)));
    }

    private static XElement Parameter(ParameterHelp p, ParameterMetadata m, bool inSyntax)
    {
        var element = new XElement(Command + "parameter",
            new XAttribute("required", m.Required ? "true" : "false"),
            new XAttribute("variableLength", "true"),
            new XAttribute("globbing", m.AcceptsWildcards ? "true" : "false"),
            new XAttribute("pipelineInput", m.PipelineInput),
            new XAttribute("position", int.TryParse(m.Position, out _) ? m.Position : "named"),
            new XAttribute("aliases", m.Aliases.Count == 0 ? "none" : string.Join(", ", m.Aliases)),
            new XElement(Maml + "name", p.Name),
            Description(p.Description));
        // A switch takes no value, so its syntax shows [-Name] with no <Type>.
        if (!(inSyntax && m.IsSwitch))
            element.Add(new XElement(Command + "parameterValue",
                new XAttribute("required", m.IsSwitch ? "false" : "true"),
                new XAttribute("variableLength", "false"),
                m.Type));
        element.Add(
            new XElement(Dev + "type", new XElement(Maml + "name", m.Type), new XElement(Maml + "uri")),
            new XElement(Dev + "defaultValue", m.DefaultValue));
        return element;
    }

    private static IEnumerable<XElement> Types(IReadOnlyList<TypeHelp> types, XName element)
    {
        var list = types.Count > 0 ? types : [new TypeHelp("None", [])];
        return list.Select(t => new XElement(element,
            new XElement(Dev + "type", new XElement(Maml + "name", t.Name)),
            Description(t.Description)));
    }

    private static XElement Example(ExampleHelp e) =>
        new(Command + "example",
            new XElement(Maml + "title", $"--------- {e.Title} ---------"),
            new XElement(Dev + "code", e.Code),
            new XElement(Dev + "remarks", Paras(e.Remarks)));

    private static XElement Description(IReadOnlyList<string> paragraphs) => new(Maml + "description", Paras(paragraphs));

    private static IEnumerable<XElement> Paras(IReadOnlyList<string> paragraphs) =>
        paragraphs.Count == 0 ? [new XElement(Maml + "para")] : paragraphs.Select(p => new XElement(Maml + "para", p));

    private static bool IsAbsoluteWebUri(string uri) =>
        Uri.TryCreate(uri, UriKind.Absolute, out var u) && (u.Scheme == Uri.UriSchemeHttps || u.Scheme == Uri.UriSchemeHttp);
}
