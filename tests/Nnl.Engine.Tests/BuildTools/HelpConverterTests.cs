extern alias BuildTools;

using System.Xml;
using System.Xml.Linq;
using System.Xml.XPath;
using BuildTools::Nnl.BuildTools.Help;

namespace Nnl.Engine.Tests.BuildTools;

public class HelpConverterTests
{
    private static XElement Command() =>
        MamlWriter.ToMaml([CommandHelpParser.Parse(SampleHelpPages.MeasureNnlWidget, "docs/Measure-NnlWidget.md")]).Root!;

    private static readonly XmlNamespaceManager Ns = CreateNamespaces();

    private static XmlNamespaceManager CreateNamespaces()
    {
        var ns = new XmlNamespaceManager(new NameTable());
        ns.AddNamespace("msh", "http://msh");
        ns.AddNamespace("maml", "http://schemas.microsoft.com/maml/2004/10");
        ns.AddNamespace("command", "http://schemas.microsoft.com/maml/dev/command/2004/10");
        ns.AddNamespace("dev", "http://schemas.microsoft.com/maml/dev/2004/10");
        return ns;
    }

    private static string Text(XElement root, string xpath) =>
        (root.XPathSelectElement(xpath, Ns) ?? throw new Xunit.Sdk.XunitException($"no element at {xpath}")).Value;

    private static string[] Texts(XElement root, string xpath) => root.XPathSelectElements(xpath, Ns).Select(e => e.Value).ToArray();

    [Fact]
    public void DetailsCarryNameVerbNounAndSynopsis()
    {
        var root = Command();
        Assert.Equal("helpItems", root.Name.LocalName);
        Assert.Equal("maml", root.Attribute("schema")?.Value);
        const string d = "command:command/command:details";
        Assert.Equal("Measure-NnlWidget", Text(root, d + "/command:name"));
        Assert.Equal("Measure", Text(root, d + "/command:verb"));
        Assert.Equal("NnlWidget", Text(root, d + "/command:noun"));
        // Soft-wrapped markdown lines join into one paragraph.
        Assert.Equal(["Measures how fast widgets spin."], Texts(root, d + "/maml:description/maml:para"));
        Assert.Equal(["The first paragraph of the description.", "The second paragraph:\n- one item\n- another item"],
            Texts(root, "command:command/maml:description/maml:para"));
    }

    [Fact]
    public void EachParameterSetBecomesASyntaxItemWithItsParameters()
    {
        var root = Command();
        var items = root.XPathSelectElements("command:command/command:syntax/command:syntaxItem", Ns).ToArray();
        Assert.Equal(2, items.Length);
        Assert.Equal(["Index", "Fast"], Texts(items[0], "command:parameter/maml:name"));
        Assert.Equal(["Name", "Fast"], Texts(items[1], "command:parameter/maml:name"));

        var index = items[0].XPathSelectElement("command:parameter[maml:name='Index']", Ns)!;
        Assert.Equal("0", index.Attribute("position")?.Value);
        Assert.Equal("false", index.Attribute("required")?.Value);
        Assert.Equal("Id, Number", index.Attribute("aliases")?.Value);
        Assert.Equal("Int32[]", Text(index, "command:parameterValue"));

        var name = items[1].XPathSelectElement("command:parameter[maml:name='Name']", Ns)!;
        Assert.Equal("named", name.Attribute("position")?.Value);
        Assert.Equal("true", name.Attribute("required")?.Value);
        Assert.Equal("True (ByValue)", name.Attribute("pipelineInput")?.Value);
        Assert.Equal("true", name.Attribute("globbing")?.Value);
        Assert.Equal("none", name.Attribute("aliases")?.Value);

        // A switch shows no value placeholder in syntax.
        Assert.Empty(items[0].XPathSelectElements("command:parameter[maml:name='Fast']/command:parameterValue", Ns));
    }

    [Fact]
    public void ParametersSectionListsEveryParameterOnceWithTypeAndDefault()
    {
        var root = Command();
        const string p = "command:command/command:parameters/command:parameter";
        Assert.Equal(["Index", "Name", "Fast"], Texts(root, p + "/maml:name"));
        Assert.Equal("All widgets", Text(root, p + "[maml:name='Index']/dev:defaultValue"));
        Assert.Equal("SwitchParameter", Text(root, p + "[maml:name='Fast']/dev:type/maml:name"));
        Assert.Equal("Which widgets, by index.", Text(root, p + "[maml:name='Index']/maml:description/maml:para"));
        Assert.DoesNotContain("CommonParameters", Texts(root, p + "/maml:name"));
    }

    [Fact]
    public void InputsOutputsNotesAndLinks()
    {
        var root = Command();
        Assert.Equal("System.String", Text(root, "command:command/command:inputTypes/command:inputType/dev:type/maml:name"));
        Assert.Equal("Widget names.", Text(root, "command:command/command:inputTypes/command:inputType/maml:description/maml:para"));
        Assert.Equal("Nnl.Engine.NnlWidgetSpeed", Text(root, "command:command/command:returnValues/command:returnValue/dev:type/maml:name"));
        Assert.Equal("Widgets are imaginary.", Text(root, "command:command/maml:alertSet/maml:alert/maml:para"));
        const string links = "command:command/command:relatedLinks/maml:navigationLink";
        Assert.Equal(["Online Version:", "Get-NnlDevice", "about_Nnl"], Texts(root, links + "/maml:linkText"));
        // The relative .md link is only meaningful on the web site; Get-Help gets the name alone.
        Assert.Equal(["https://example.invalid/nnl/Measure-NnlWidget", "", "https://example.invalid/nnl/about_Nnl"], Texts(root, links + "/maml:uri"));
    }

    [Fact]
    public void ExamplesKeepCodeAndRemarksApart()
    {
        var root = Command();
        var examples = root.XPathSelectElements("command:command/command:examples/command:example", Ns).ToArray();
        Assert.Equal(2, examples.Length);
        Assert.Contains("Example 1: Measure every widget", Text(examples[0], "maml:title"));
        Assert.Equal("Measure-NnlWidget", Text(examples[0], "dev:code"));
        Assert.Equal(["Measures all widgets and prints a table."], Texts(examples[0], "dev:remarks/maml:para"));
        Assert.Equal("'a', 'b' |\n    Measure-NnlWidget -Fast", Text(examples[1], "dev:code"));
        var remarks = Texts(examples[1], "dev:remarks/maml:para");
        Assert.Equal(2, remarks.Length);
        Assert.StartsWith("Name Speed", remarks[0]);
        Assert.Equal("Shows the output too.", remarks[1]);
    }

    [Fact]
    public void BuildWritesMamlAndAboutTopicsAndSkipsArticles()
    {
        string docs = Directory.CreateTempSubdirectory("nnl-docs-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(docs, "Measure-NnlWidget.md"), SampleHelpPages.MeasureNnlWidget);
            File.WriteAllText(Path.Combine(docs, "about_NnlWidget.md"), SampleHelpPages.AboutNnlWidget);
            File.WriteAllText(Path.Combine(docs, "architecture.md"), "# Architecture\n\nNot a help topic.\n");
            File.WriteAllText(Path.Combine(docs, "getting-started.md"), "# Getting started\n\nNot a help topic either.\n");
            string outFile = Path.Combine(docs, "out", "en-US", "Nnl.PowerShell.dll-Help.xml");

            var result = HelpBuilder.Build(docs, outFile);

            Assert.Equal(["Measure-NnlWidget"], result.Commands.Select(c => c.Name));
            var maml = XDocument.Load(outFile);
            Assert.Single(maml.Root!.Elements(MamlWriter.Command + "command"));
            string about = File.ReadAllText(Path.Combine(docs, "out", "en-US", "about_NnlWidget.help.txt"));
            Assert.StartsWith("TOPIC\n    about_nnlwidget\n\nSHORT DESCRIPTION\n    Widgets in Nnl.\n", about);
            Assert.Contains("\n        Measure-NnlWidget -Fast\n", about);
            Assert.All(about.Split('\n'), line => Assert.True(line.Length <= 80, $"longer than 80: '{line}'"));
            Assert.Contains("    Widgets spin. This sentence is long enough that the about topic writer has\n    to wrap it", about);
        }
        finally
        {
            Directory.Delete(docs, recursive: true);
        }
    }

    [Fact]
    public void TheRepositoryDocsBuildWithOneCommandPerCmdletPage()
    {
        string docs = Path.Combine(RepoPaths.Root, "docs");
        string outDir = Directory.CreateTempSubdirectory("nnl-help-").FullName;
        try
        {
            var result = HelpBuilder.Build(docs, Path.Combine(outDir, "Nnl.PowerShell.dll-Help.xml"));
            var pages = Directory.GetFiles(docs, "*.md").Select(Path.GetFileNameWithoutExtension).Where(n => CommandHelpParser.IsCmdletName(n!));
            Assert.Equal(pages.Order(), result.Commands.Select(c => c.Name).Order());
            Assert.Contains("Get-NnlDevice", result.Commands.Select(c => c.Name));
            Assert.Contains(Path.Combine(outDir, "about_Nnl.help.txt"), result.AboutFiles);
        }
        finally
        {
            Directory.Delete(outDir, recursive: true);
        }
    }

    [Fact]
    public void AnAboutPageWithoutShortDescriptionFails()
    {
        var doc = MarkdownDocument.Parse("# about_NnlWidget\n\n## LONG DESCRIPTION\nText.\n", "docs/about_NnlWidget.md");
        var e = Assert.Throws<HelpPageException>(() => AboutTopicWriter.ToText(doc));
        Assert.Equal(1, e.Line);
        Assert.Contains("SHORT DESCRIPTION", e.Problem);
    }

    private static int LineOf(string text, string marker) =>
        text[..text.IndexOf(marker, StringComparison.Ordinal)].Count(c => c == '\n') + 1;

    private static HelpPageException ParseFails(string text)
    {
        var e = Assert.Throws<HelpPageException>(() => CommandHelpParser.Parse(text, "docs/Measure-NnlWidget.md"));
        Assert.Equal("docs/Measure-NnlWidget.md", e.File);
        Assert.StartsWith($"docs/Measure-NnlWidget.md:{e.Line}: ", e.Message);
        return e;
    }

    [Fact]
    public void MissingSynopsisNamesFileAndTitleLine()
    {
        string page = SampleHelpPages.MeasureNnlWidget.Replace("## SYNOPSIS\nMeasures how fast widgets\nspin.\n", "");
        var e = ParseFails(page);
        Assert.Equal(LineOf(page, "# Measure-NnlWidget"), e.Line);
        Assert.Contains("## SYNOPSIS", e.Problem);
    }

    [Fact]
    public void ParameterWithoutYamlNamesItsHeadingLine()
    {
        string page = SampleHelpPages.MeasureNnlWidget.Replace(
            "The widget's name.\n\n```yaml\nType: String\nParameter Sets: ByName\nAliases:\n\nRequired: True\nPosition: Named\nDefault value: None\nAccept pipeline input: True (ByValue)\nAccept wildcard characters: True\n```\n",
            "The widget's name.\n");
        Assert.NotEqual(SampleHelpPages.MeasureNnlWidget, page);
        var e = ParseFails(page);
        Assert.Equal(LineOf(page, "### -Name"), e.Line);
        Assert.Contains("-Name has no ```yaml block", e.Problem);
    }

    [Fact]
    public void ParameterWithoutDescriptionFails()
    {
        string page = SampleHelpPages.MeasureNnlWidget.Replace("### -Fast\nSpin faster.\n", "### -Fast\n");
        var e = ParseFails(page);
        Assert.Equal(LineOf(page, "### -Fast"), e.Line);
        Assert.Contains("no description", e.Problem);
    }

    [Theory]
    [InlineData("Required: True\n", "Required: Yes\n", "Required")]
    [InlineData("Position: 0\n", "Position: first\n", "Position")]
    [InlineData("Aliases: Id, Number\n", "Alias: Id\n", "unknown yaml key 'Alias'")]
    [InlineData("## NOTES\n", "## NOTE\n", "unexpected heading '## NOTE'")]
    [InlineData("### Example 2: Pipe names\n```powershell\n'a', 'b' |\n    Measure-NnlWidget -Fast\n```\n", "### Example 2: Pipe names\n", "has no ```powershell code block")]
    [InlineData("The widget's name.\n", "{{ Fill Name Description }}\n", "placeholder")]
    public void MalformedFieldsNameTheirLine(string good, string bad, string expected)
    {
        Assert.Contains(good, SampleHelpPages.MeasureNnlWidget);
        string page = SampleHelpPages.MeasureNnlWidget.Replace(good, bad);
        var e = ParseFails(page);
        Assert.Contains(expected, e.Problem);
        int firstLine = LineOf(page, bad);
        // The reported line is the changed line, or the block/heading it belongs to.
        Assert.InRange(e.Line, firstLine - 12, firstLine + bad.Count(c => c == '\n'));
    }

    [Fact]
    public void TitleMustMatchFileName()
    {
        var e = Assert.Throws<HelpPageException>(() => CommandHelpParser.Parse(SampleHelpPages.MeasureNnlWidget, "docs/Get-NnlWidget.md"));
        Assert.Equal(LineOf(SampleHelpPages.MeasureNnlWidget, "# Measure-NnlWidget"), e.Line);
        Assert.Contains("does not match the file name", e.Problem);
    }

    [Fact]
    public void UnclosedFenceNamesWhereItOpened()
    {
        string page = SampleHelpPages.MeasureNnlWidget + "\n```powershell\nGet-NnlDevice\n";
        var e = ParseFails(page);
        Assert.Equal(page.Split('\n').Length - 2, e.Line);
        Assert.Contains("never closed", e.Problem);
    }

    [Fact]
    public void BuildReportsEveryBrokenPage()
    {
        string docs = Directory.CreateTempSubdirectory("nnl-docs-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(docs, "Measure-NnlWidget.md"), SampleHelpPages.MeasureNnlWidget.Replace("## OUTPUTS", "## OUTPUT"));
            File.WriteAllText(Path.Combine(docs, "Get-NnlWidget.md"), SampleHelpPages.MeasureNnlWidget.Replace("Measure-NnlWidget", "Get-NnlWidget").Replace("## SYNOPSIS", "## SUMMARY"));
            var e = Assert.Throws<HelpBuildException>(() => HelpBuilder.Build(docs, Path.Combine(docs, "out.xml")));
            Assert.Equal(["Get-NnlWidget.md", "Measure-NnlWidget.md"], e.Errors.Select(x => Path.GetFileName(x.File)));
            Assert.False(File.Exists(Path.Combine(docs, "out.xml")));
        }
        finally
        {
            Directory.Delete(docs, recursive: true);
        }
    }
}
