using System.Diagnostics;
using System.Text.RegularExpressions;
using Nnl.BuildTools.Help;
using Nnl.BuildTools.Surface;

namespace Nnl.BuildTools.Layout;

/// <summary>
/// layout: assembles the importable module folder (out/Nnl):
/// <code>
/// Nnl.psd1                       manifest, ModuleVersion = the built assembly's version
/// Nnl.PowerShell.dll, Nnl.Engine.dll and their runtime dependencies (dotnet publish)
/// Formats/*.Format.ps1xml        default views
/// en-US/Nnl.PowerShell.dll-Help.xml, en-US/about_Nnl.help.txt
/// </code>
/// </summary>
public static partial class ModuleLayout
{
    public const string ModuleAssembly = "Nnl.PowerShell.dll";

    public static int Run(string[] args)
    {
        string? outDir = null;
        string configuration = "Release";
        bool noBuild = false;
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--no-build") noBuild = true;
            else if (args[i] == "--configuration" && i + 1 < args.Length) configuration = args[++i];
            else if (outDir == null && !args[i].StartsWith('-')) outDir = args[i];
            else { outDir = null; break; }
        }
        if (outDir == null)
        {
            Console.Error.WriteLine("usage: layout <out-dir (out/Nnl)> [--configuration Release] [--no-build]");
            return 2;
        }
        try
        {
            var files = Assemble(FindRepositoryRoot(Environment.CurrentDirectory), outDir, configuration, noBuild);
            Console.WriteLine($"laid out module Nnl {SurfaceCheck.VersionOf(Path.Combine(outDir, ModuleAssembly))} in {outDir} ({files} files)");
            return 0;
        }
        catch (HelpBuildException e)
        {
            foreach (var error in e.Errors) Console.Error.WriteLine($"error NNL0002: {error.Message}");
            return 1;
        }
        catch (LayoutException e)
        {
            Console.Error.WriteLine($"error NNL0004: {e.Message}");
            return 1;
        }
    }

    /// <summary>Builds the layout; returns how many files it holds.</summary>
    public static int Assemble(string repoRoot, string outDir, string configuration, bool noBuild)
    {
        outDir = Path.GetFullPath(outDir);
        PrepareEmpty(outDir);

        string project = Path.Combine(repoRoot, "src", "Nnl.PowerShell", "Nnl.PowerShell.csproj");
        var publishArgs = new List<string> { "publish", project, "-c", configuration, "-o", outDir, "--nologo", "-v", "q" };
        // Without BuildProjectReferences=false, --no-build still builds the kernel tool the engine references (NETSDK1085).
        if (noBuild) publishArgs.AddRange(["--no-build", "-p:BuildProjectReferences=false"]);
        RunDotnet(publishArgs);

        string assembly = Path.Combine(outDir, ModuleAssembly);
        foreach (var required in new[] { ModuleAssembly, "Nnl.Engine.dll" })
            if (!File.Exists(Path.Combine(outDir, required)))
                throw new LayoutException($"dotnet publish left no {required} in {outDir}");
        // pwsh brings its own System.Management.Automation; a copy in the module would shadow it.
        if (File.Exists(Path.Combine(outDir, "System.Management.Automation.dll")))
            throw new LayoutException("System.Management.Automation.dll was published into the module; keep PowerShellStandard.Library compile-only (ExcludeAssets=runtime)");

        string manifestSource = Path.Combine(repoRoot, "Nnl.psd1");
        File.WriteAllText(Path.Combine(outDir, "Nnl.psd1"), WithModuleVersion(File.ReadAllText(manifestSource), SurfaceCheck.VersionOf(assembly), manifestSource));

        var manifest = ManifestReader.Load(manifestSource);
        string formatsSource = Path.Combine(repoRoot, "src", "Nnl.PowerShell");
        foreach (var format in ManifestReader.StringList(manifest, "FormatsToProcess") ?? [])
        {
            string from = Path.Combine(formatsSource, format);
            if (!File.Exists(from))
                throw new LayoutException($"Nnl.psd1 lists FormatsToProcess '{format}', but {from} does not exist");
            string to = Path.Combine(outDir, format);
            Directory.CreateDirectory(Path.GetDirectoryName(to)!);
            File.Copy(from, to, overwrite: true);
        }

        HelpBuilder.Build(Path.Combine(repoRoot, "docs"), Path.Combine(outDir, "en-US", "Nnl.PowerShell.dll-Help.xml"));
        return Directory.GetFiles(outDir, "*", SearchOption.AllDirectories).Length;
    }

    /// <summary>
    /// Replaces the value of the one ModuleVersion line. Text surgery rather than regenerating the
    /// manifest keeps its comments and layout, so out/Nnl/Nnl.psd1 diffs against the source by one line.
    /// </summary>
    public static string WithModuleVersion(string manifestText, string version, string file)
    {
        var matches = ModuleVersionLine().Matches(manifestText);
        if (matches.Count != 1)
            throw new LayoutException($"{file}: expected one line \"ModuleVersion = '...'\", found {matches.Count}");
        return ModuleVersionLine().Replace(manifestText, m => m.Groups["head"].Value + "'" + version + "'");
    }

    public static string FindRepositoryRoot(string start)
    {
        for (var dir = new DirectoryInfo(start); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Nnl.slnx"))) return dir.FullName;
        throw new LayoutException($"no Nnl.slnx in {start} or above; run layout from the repository");
    }

    /// <summary>Empties a previous layout; refuses to empty a folder that is something else.</summary>
    private static void PrepareEmpty(string outDir)
    {
        if (Directory.Exists(outDir) && Directory.EnumerateFileSystemEntries(outDir).Any())
        {
            if (!File.Exists(Path.Combine(outDir, "Nnl.psd1")) && !File.Exists(Path.Combine(outDir, ModuleAssembly)))
                throw new LayoutException($"{outDir} exists and is not a previous Nnl layout; not deleting it");
            Directory.Delete(outDir, recursive: true);
        }
        Directory.CreateDirectory(outDir);
    }

    private static void RunDotnet(IReadOnlyList<string> args)
    {
        var start = new ProcessStartInfo("dotnet") { UseShellExecute = false };
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start) ?? throw new LayoutException("could not start dotnet");
        process.WaitForExit();
        if (process.ExitCode != 0)
            throw new LayoutException($"dotnet {string.Join(' ', args)} failed with exit code {process.ExitCode}");
    }

    [GeneratedRegex(@"(?m)^(?<head>[ \t]*ModuleVersion[ \t]*=[ \t]*)'[^'\r\n]*'")]
    private static partial Regex ModuleVersionLine();
}

public sealed class LayoutException(string message) : Exception(message);
