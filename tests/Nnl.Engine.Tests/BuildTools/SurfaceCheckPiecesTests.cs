extern alias BuildTools;

using BuildTools::Nnl.BuildTools.Help;
using BuildTools::Nnl.BuildTools.Surface;

namespace Nnl.Engine.Tests.BuildTools;

public class ApprovedVerbsTests
{
    [Theory]
    [InlineData("Get", true)]
    [InlineData("Measure", true)]
    [InlineData("ConvertTo", true)]
    [InlineData("Unprotect", true)]
    [InlineData("Use", true)]
    [InlineData("Fetch", false)]
    [InlineData("Benchmark", false)]
    [InlineData("get", false)]
    [InlineData("Load", false)]
    public void KnowsGetVerbsList(string verb, bool approved) => Assert.Equal(approved, ApprovedVerbs.IsApproved(verb));

    [Fact]
    public void HasTheHundredVerbsOfPowerShell7InSevenGroups()
    {
        Assert.Equal(100, ApprovedVerbs.Groups.Count);
        Assert.Equal(["Common", "Communications", "Data", "Diagnostic", "Lifecycle", "Other", "Security"],
            ApprovedVerbs.Groups.Values.Distinct().Order());
        Assert.Equal("Lifecycle", ApprovedVerbs.Groups["Invoke"]);
    }
}

public class ManifestReaderTests
{
    [Fact]
    public void ReadsTheRepositoryManifest()
    {
        var manifest = ManifestReader.Load(Path.Combine(RepoPaths.Root, "Nnl.psd1"));
        Assert.Equal("Nnl.PowerShell.dll", manifest["RootModule"]);
        Assert.Contains("Get-NnlDevice", ManifestReader.StringList(manifest, "CmdletsToExport")!);
        Assert.Empty(ManifestReader.StringList(manifest, "FunctionsToExport")!);
        Assert.Empty(ManifestReader.StringList(manifest, "AliasesToExport")!);
        Assert.Empty(ManifestReader.StringList(manifest, "VariablesToExport")!);
        var psData = (IReadOnlyDictionary<string, object>)((IReadOnlyDictionary<string, object>)manifest["PrivateData"])["PSData"];
        Assert.Contains("CUDA", ManifestReader.StringList(psData, "Tags")!);
        Assert.Null(ManifestReader.StringList(manifest, "NoSuchKey"));
    }

    [Fact]
    public void ReadsEveryArrayShapeAManifestUses()
    {
        const string text = """
            <# block
               comment #>
            @{
                # a comment with 'quotes' and @( brackets
                A = @()
                B = 'one'
                C = 'x', 'y',
                    'z'
                D = @(
                    'p' # trailing comment
                    'q', "r"
                )
                'E' = 'it''s'; F = @('s')
                G = @{ H = @{ I = 'deep' } }
                V = 1.2.3
                T = $true
            }
            """;
        var m = ManifestReader.Parse(text, "t.psd1");
        Assert.Empty(ManifestReader.StringList(m, "A")!);
        Assert.Equal(["one"], ManifestReader.StringList(m, "B")!);
        Assert.Equal(["x", "y", "z"], ManifestReader.StringList(m, "C")!);
        Assert.Equal(["p", "q", "r"], ManifestReader.StringList(m, "D")!);
        Assert.Equal("it's", m["e"]);
        Assert.Equal(["s"], ManifestReader.StringList(m, "F")!);
        Assert.Equal("deep", ((IReadOnlyDictionary<string, object>)((IReadOnlyDictionary<string, object>)m["G"])["H"])["I"]);
        Assert.Equal("1.2.3", m["V"]);
        Assert.Equal("$true", m["T"]);
    }

    [Theory]
    [InlineData("@{\n A = 'x'\n", 3, "never closed")]
    [InlineData("@{\n A = 'x'\n A = 'y'\n}", 3, "appears twice")]
    [InlineData("@{\n A = @('x'\n}", 3, "expected a string")]
    [InlineData("@{\n\n A = \"$env:X\"\n}", 3, "expandable")]
    [InlineData("@{ A = 'x' } junk", 1, "after the manifest")]
    public void MalformedManifestsNameTheLine(string text, int line, string expected)
    {
        var e = Assert.Throws<FormatException>(() => ManifestReader.Parse(text, "bad.psd1"));
        Assert.StartsWith($"bad.psd1:{line}: ", e.Message);
        Assert.Contains(expected, e.Message);
    }
}

public class DocumentedParametersTests
{
    [Fact]
    public void ListsParametersWithTheirLinesAndWhetherTheyAreDescribed()
    {
        string page = SampleHelpPages.MeasureNnlWidget.Replace("### -Fast\nSpin faster.\n", "### -Fast\n");
        var parameters = DocumentedParameters.Read(MarkdownDocument.Parse(page, "docs/Measure-NnlWidget.md"));
        Assert.Equal(["Index", "Name", "Fast"], parameters.Select(p => p.Name));
        Assert.Equal([true, true, false], parameters.Select(p => p.HasDescription));
        var lines = page.Split('\n');
        Assert.All(parameters, p => Assert.Equal($"### -{p.Name}", lines[p.Line - 1]));
    }

    [Fact]
    public void PlaceholderTextIsNotADescription()
    {
        string page = SampleHelpPages.MeasureNnlWidget.Replace("Which widgets, by index.", "{{ Fill Index Description }}");
        var index = DocumentedParameters.Read(MarkdownDocument.Parse(page, "x.md")).Single(p => p.Name == "Index");
        Assert.False(index.HasDescription);
    }
}

public class ModuleLayoutTests
{
    [Fact]
    public void WritesTheBuiltVersionIntoTheManifestAndChangesNothingElse()
    {
        string source = File.ReadAllText(Path.Combine(RepoPaths.Root, "Nnl.psd1"));
        string version = $"{Random.Shared.Next(1, 99)}.{Random.Shared.Next(0, 99)}.{Random.Shared.Next(0, 999)}";
        string written = BuildTools::Nnl.BuildTools.Layout.ModuleLayout.WithModuleVersion(source, version, "Nnl.psd1");
        Assert.Equal(version, ManifestReader.Parse(written, "out.psd1")["ModuleVersion"]);
        var before = source.Split('\n');
        var after = written.Split('\n');
        Assert.Equal(before.Length, after.Length);
        Assert.Single(before.Zip(after), p => p.First != p.Second);
    }

    [Fact]
    public void RefusesAManifestWithoutExactlyOneModuleVersion()
    {
        Assert.Throws<BuildTools::Nnl.BuildTools.Layout.LayoutException>(() =>
            BuildTools::Nnl.BuildTools.Layout.ModuleLayout.WithModuleVersion("@{ RootModule = 'x' }", "1.0.0", "m.psd1"));
    }
}
