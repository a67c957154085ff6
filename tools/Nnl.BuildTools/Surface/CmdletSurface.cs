using System.Reflection;
using System.Runtime.InteropServices;

namespace Nnl.BuildTools.Surface;

/// <summary>A cmdlet as the built assembly declares it.</summary>
public sealed record CmdletDefinition(string Verb, string Noun, string TypeName, string ClassName, IReadOnlyList<string> OutputTypes, IReadOnlyList<string> Parameters)
{
    public string Name => $"{Verb}-{Noun}";
}

/// <summary>
/// Reads the cmdlets of Nnl.PowerShell.dll without loading it for execution
/// (System.Reflection.MetadataLoadContext): attributes are matched by their full type name, so the
/// tool needs neither pwsh nor System.Management.Automation at run time, only its reference assembly.
/// </summary>
public static class CmdletSurface
{
    private const string CmdletAttribute = "System.Management.Automation.CmdletAttribute";
    private const string OutputTypeAttribute = "System.Management.Automation.OutputTypeAttribute";
    private const string ParameterAttribute = "System.Management.Automation.ParameterAttribute";

    /// <summary>
    /// The PowerShellStandard.Library reference assembly folder in the NuGet cache, where the build
    /// restored it; null if it is not there.
    /// </summary>
    public static string? FindPowerShellReference()
    {
        string packages = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
            ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        string dir = Path.Combine(packages, "powershellstandard.library", "5.1.0-preview-06", "lib", "netstandard2.0");
        return File.Exists(Path.Combine(dir, "System.Management.Automation.dll")) ? dir : null;
    }

    public static IReadOnlyList<CmdletDefinition> Read(string assemblyPath, string powerShellReferenceDir)
    {
        assemblyPath = Path.GetFullPath(assemblyPath);
        // Later folders win for the same simple name only when no earlier one has it: the module's own
        // folder first, then the PowerShell reference, then the running runtime for the BCL.
        var paths = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (string dir in new[] { Path.GetDirectoryName(assemblyPath)!, powerShellReferenceDir, RuntimeEnvironment.GetRuntimeDirectory() })
            foreach (string dll in Directory.GetFiles(dir, "*.dll"))
                paths.TryAdd(Path.GetFileName(dll), dll);
        using var context = new MetadataLoadContext(new PathAssemblyResolver(paths.Values), "System.Private.CoreLib");
        var assembly = context.LoadFromAssemblyPath(assemblyPath);

        var cmdlets = new List<CmdletDefinition>();
        foreach (var type in assembly.GetTypes().Where(t => t.IsClass && !t.IsAbstract))
        {
            var cmdlet = type.GetCustomAttributesData().FirstOrDefault(a => a.AttributeType.FullName == CmdletAttribute);
            if (cmdlet == null) continue;
            string verb = (string)cmdlet.ConstructorArguments[0].Value!;
            string noun = (string)cmdlet.ConstructorArguments[1].Value!;
            var outputs = type.GetCustomAttributesData()
                .Where(a => a.AttributeType.FullName == OutputTypeAttribute)
                .SelectMany(a => a.ConstructorArguments)
                .SelectMany(OutputTypeNames)
                .ToList();
            var parameters = type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
                .Where(p => p.GetCustomAttributesData().Any(a => a.AttributeType.FullName == ParameterAttribute))
                .Select(p => p.Name)
                .ToList();
            cmdlets.Add(new CmdletDefinition(verb, noun, type.FullName!, type.Name, outputs, parameters));
        }
        return cmdlets.OrderBy(c => c.Name, StringComparer.Ordinal).ToList();
    }

    /// <summary>[OutputType] takes Type[] or string[] (params), so each argument is an array of either.</summary>
    private static IEnumerable<string> OutputTypeNames(CustomAttributeTypedArgument argument) =>
        argument.Value switch
        {
            IReadOnlyCollection<CustomAttributeTypedArgument> items => items.SelectMany(OutputTypeNames),
            Type t => [t.FullName ?? t.Name],
            string s => [s],
            _ => [],
        };
}
