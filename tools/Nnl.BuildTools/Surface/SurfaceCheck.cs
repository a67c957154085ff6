using System.Reflection;

namespace Nnl.BuildTools.Surface;

/// <summary>
/// check-surface: compares what the built Nnl.PowerShell.dll defines with the manifest and the docs.
/// Every check prints one line; the last line is "N passed, N failed".
/// </summary>
public static class SurfaceCheck
{
    public sealed class Report
    {
        public List<(bool Passed, string Check, string? Why)> Lines { get; } = [];
        public int Passed => Lines.Count(l => l.Passed);
        public int Failed => Lines.Count(l => !l.Passed);

        public void Check(bool passed, string check, string? why = null) => Lines.Add((passed, check, passed ? null : why));
    }

    public static int Run(string[] args)
    {
        string? reference = null;
        var positional = new List<string>();
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--reference" && i + 1 < args.Length) reference = args[++i];
            else positional.Add(args[i]);
        }
        if (positional.Count != 3)
        {
            Console.Error.WriteLine("usage: check-surface <Nnl.PowerShell.dll> <Nnl.psd1> <docs-dir> [--reference <PowerShellStandard lib dir>]");
            return 2;
        }
        reference ??= CmdletSurface.FindPowerShellReference();
        if (reference == null)
        {
            Console.Error.WriteLine("error NNL0003: PowerShellStandard.Library 5.1.0-preview-06 is not in the NuGet cache; build src/Nnl.PowerShell first or pass --reference");
            return 1;
        }
        var report = Check(positional[0], positional[1], positional[2], reference);
        foreach (var (passed, check, why) in report.Lines)
            Console.WriteLine(passed ? $"ok   {check}" : $"FAIL {check}: {why}");
        Console.WriteLine($"{report.Passed} passed, {report.Failed} failed");
        return report.Failed == 0 ? 0 : 1;
    }

    public static Report Check(string assemblyPath, string manifestPath, string docsDir, string powerShellReferenceDir)
    {
        var report = new Report();
        IReadOnlyList<CmdletDefinition> cmdlets;
        try
        {
            cmdlets = CmdletSurface.Read(assemblyPath, powerShellReferenceDir);
            report.Check(cmdlets.Count > 0, $"{Path.GetFileName(assemblyPath)} defines cmdlets ({cmdlets.Count})", "no class carries [Cmdlet]");
        }
        catch (Exception e) when (e is IOException or BadImageFormatException or FileLoadException or TypeLoadException)
        {
            report.Check(false, $"read {assemblyPath}", e.Message);
            return report;
        }

        IReadOnlyDictionary<string, object> manifest;
        try
        {
            manifest = ManifestReader.Load(manifestPath);
            report.Check(true, $"{Path.GetFileName(manifestPath)} parses");
        }
        catch (Exception e) when (e is IOException or FormatException)
        {
            report.Check(false, $"{manifestPath} parses", e.Message);
            return report;
        }
        CheckManifest(report, manifest, manifestPath, assemblyPath);

        var exported = ManifestReader.StringList(manifest, "CmdletsToExport") ?? [];
        var helpNames = ReadHelpNames(report, assemblyPath);
        foreach (var cmdlet in cmdlets)
        {
            CheckCmdlet(report, cmdlet, exported, docsDir);
            if (helpNames != null)
                report.Check(helpNames.Contains(cmdlet.Name), $"{cmdlet.Name}: has MAML help for Get-Help", "no command:command with this name in the help file");
        }
        foreach (var name in exported.Where(n => !cmdlets.Any(c => c.Name == n)))
            report.Check(false, $"{name} in CmdletsToExport is defined by the assembly", "no [Cmdlet] class has this name (case counts)");
        return report;
    }

    private static void CheckManifest(Report report, IReadOnlyDictionary<string, object> manifest, string manifestPath, string assemblyPath)
    {
        string dll = Path.GetFileName(assemblyPath);
        string? root = manifest.GetValueOrDefault("RootModule") as string;
        report.Check(root == dll, $"RootModule is '{dll}'", $"it is '{root}'");

        string built = VersionOf(assemblyPath);
        string? declared = manifest.GetValueOrDefault("ModuleVersion") as string;
        report.Check(declared == built, $"ModuleVersion equals the assembly version {built}", $"manifest says '{declared}'");

        var exports = ManifestReader.StringList(manifest, "CmdletsToExport");
        report.Check(exports != null && !exports.Any(e => e.Contains('*')), "CmdletsToExport is an explicit list",
            exports == null ? "missing" : "contains a wildcard");
        foreach (var key in new[] { "FunctionsToExport", "AliasesToExport", "VariablesToExport" })
        {
            var list = ManifestReader.StringList(manifest, key);
            report.Check(list is { Count: 0 }, $"{key} is @()", list == null ? "missing (PowerShell then exports everything)" : $"it lists {string.Join(", ", list)}");
        }

        var editions = ManifestReader.StringList(manifest, "CompatiblePSEditions");
        report.Check(editions is ["Core"], "CompatiblePSEditions is @('Core')", editions == null ? "missing" : string.Join(", ", editions));

        // Format files resolve against the manifest's folder (as Import-Module does) or, in the
        // source tree, against the assembly's output folder where the build copies them.
        foreach (var format in ManifestReader.StringList(manifest, "FormatsToProcess") ?? [])
        {
            bool found = File.Exists(Path.Combine(Path.GetDirectoryName(Path.GetFullPath(manifestPath))!, format))
                || File.Exists(Path.Combine(Path.GetDirectoryName(Path.GetFullPath(assemblyPath))!, format));
            report.Check(found, $"format file {format} exists", "not beside the manifest nor the assembly");
        }
    }

    private static void CheckCmdlet(Report report, CmdletDefinition cmdlet, IReadOnlyList<string> exported, string docsDir)
    {
        string name = cmdlet.Name;
        report.Check(ApprovedVerbs.IsApproved(cmdlet.Verb), $"{name}: verb '{cmdlet.Verb}' is approved", "not in Get-Verb's list");
        report.Check(cmdlet.Noun.StartsWith("Nnl", StringComparison.Ordinal) && cmdlet.Noun.Length > 3, $"{name}: noun starts with Nnl", $"noun is '{cmdlet.Noun}'");
        report.Check(cmdlet.ClassName == $"{cmdlet.Verb}{cmdlet.Noun}Command", $"{name}: class is named {cmdlet.Verb}{cmdlet.Noun}Command",
            $"it is {cmdlet.TypeName}; error ids name the class, so keep them predictable");
        report.Check(cmdlet.OutputTypes.Count > 0, $"{name}: has [OutputType] ({string.Join(", ", cmdlet.OutputTypes)})", "no [OutputType] attribute");
        report.Check(exported.Contains(name, StringComparer.Ordinal), $"{name}: listed in CmdletsToExport", "the manifest does not export it");

        string page = Path.Combine(docsDir, name + ".md");
        if (!File.Exists(page))
        {
            report.Check(false, $"{name}: has a help page", $"{page} does not exist");
            return;
        }
        report.Check(true, $"{name}: has a help page");
        IReadOnlyList<DocumentedParameter> documented;
        try
        {
            documented = DocumentedParameters.Read(page);
        }
        catch (Help.HelpPageException e)
        {
            report.Check(false, $"{name}: help page reads", e.Message);
            return;
        }
        foreach (var parameter in cmdlet.Parameters)
        {
            var doc = documented.FirstOrDefault(d => d.Name.Equals(parameter, StringComparison.OrdinalIgnoreCase));
            report.Check(doc is { HasDescription: true }, $"{name}: -{parameter} has help",
                doc == null ? $"no '### -{parameter}' in {page}" : $"{page}:{doc.Line}: '### -{parameter}' has no description");
        }
        foreach (var doc in documented.Where(d => !cmdlet.Parameters.Contains(d.Name, StringComparer.OrdinalIgnoreCase)))
            report.Check(false, $"{name}: documented -{doc.Name} exists", $"{page}:{doc.Line}: the cmdlet has no such parameter");
    }

    /// <summary>
    /// The command names in en-US/&lt;assembly&gt;-Help.xml beside the assembly, where Get-Help looks.
    /// Run on the module layout (out/Nnl), which must ship it.
    /// </summary>
    private static HashSet<string>? ReadHelpNames(Report report, string assemblyPath)
    {
        string help = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(assemblyPath))!, "en-US", Path.GetFileName(assemblyPath) + "-Help.xml");
        if (!File.Exists(help))
        {
            report.Check(false, "MAML help file exists", $"{help} not found (run check-surface on the layout from `Nnl.BuildTools layout`)");
            return null;
        }
        var doc = System.Xml.Linq.XDocument.Load(help);
        var names = doc.Descendants(Help.MamlWriter.Command + "details").Select(d => (string?)d.Element(Help.MamlWriter.Command + "name") ?? "").ToHashSet(StringComparer.Ordinal);
        report.Check(true, $"MAML help file exists ({names.Count} commands)");
        return names;
    }

    /// <summary>Major.Minor.Build of the assembly: what Directory.Build.props' Version becomes.</summary>
    public static string VersionOf(string assemblyPath)
    {
        var version = AssemblyName.GetAssemblyName(assemblyPath).Version ?? new Version(0, 0, 0);
        return $"{version.Major}.{version.Minor}.{Math.Max(0, version.Build)}";
    }
}
