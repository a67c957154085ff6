using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;

namespace Nnl.PowerShell.Completers;

/// <summary>
/// Completes -Path with model directories: folders under the typed prefix that hold a config.json,
/// and folders on the way to them (one level deeper) so the user can walk a snapshot cache.
/// </summary>
public sealed class ModelPathCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        var word = (wordToComplete ?? "").Trim('\'', '"');
        var slash = word.LastIndexOfAny(['/', '\\']);
        var typedParent = slash >= 0 ? word[..(slash + 1)] : "";
        string? parent;
        try
        {
            parent = typedParent.Length == 0 ? Location() : Path.GetFullPath(ExpandHome(typedParent), Location());
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or IOException)
        {
            yield break;
        }
        if (!Directory.Exists(parent)) yield break;

        var pattern = new WildcardPattern(word[(slash + 1)..] + "*", WildcardOptions.IgnoreCase);
        IEnumerable<string> children;
        try { children = Directory.EnumerateDirectories(parent).OrderBy(d => d, StringComparer.OrdinalIgnoreCase).ToList(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { yield break; }
        foreach (var dir in children)
        {
            var name = Path.GetFileName(dir);
            if (!pattern.IsMatch(name)) continue;
            bool isModel = File.Exists(Path.Combine(dir, "config.json"));
            if (!isModel && !HoldsModel(dir)) continue;
            var text = typedParent + name;
            var quoted = text.IndexOfAny([' ', '\'', '$', '`', '&', '(', ')', '{', '}', ';', ',']) >= 0 ? "'" + text.Replace("'", "''") + "'" : text;
            yield return new CompletionResult(quoted, name, CompletionResultType.ProviderContainer,
                isModel ? $"{dir} (model: config.json)" : dir);
        }
    }

    /// <summary>PowerShell's current file-system location (not the process's), where relative paths resolve.</summary>
    private static string Location()
    {
        try
        {
            using var ps = System.Management.Automation.PowerShell.Create(RunspaceMode.CurrentRunspace);
            return ps.AddCommand("Get-Location").AddParameter("PSProvider", "FileSystem").Invoke<PathInfo>().FirstOrDefault()?.ProviderPath
                ?? Environment.CurrentDirectory;
        }
        catch (Exception e) when (e is InvalidOperationException or PSInvalidOperationException or RuntimeException)
        {
            return Environment.CurrentDirectory;
        }
    }

    /// <summary>A child folder has a config.json: worth offering this one as a step.</summary>
    private static bool HoldsModel(string dir)
    {
        try { return Directory.EnumerateDirectories(dir).Any(d => File.Exists(Path.Combine(d, "config.json"))); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return false; }
    }

    private static string ExpandHome(string path) =>
        path.StartsWith('~') ? Environment.GetFolderPath(Environment.SpecialFolder.UserProfile) + path[1..] : path;
}
