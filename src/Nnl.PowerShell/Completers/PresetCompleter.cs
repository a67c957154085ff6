using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using Nnl.Engine.Models.Presets;

namespace Nnl.PowerShell.Completers;

/// <summary>Completes -Preset with the published shapes Nnl knows; the tooltip names where each comes from.</summary>
public sealed class PresetCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        var pattern = new WildcardPattern((wordToComplete ?? "").Trim('\'', '"') + "*", WildcardOptions.IgnoreCase);
        foreach (var preset in ModelPresets.All)
        {
            if (!pattern.IsMatch(preset.Name)) continue;
            yield return new CompletionResult(preset.Name, preset.Name, CompletionResultType.ParameterValue,
                preset.Note is null ? preset.Source : $"{preset.Source} ({preset.Note})");
        }
    }
}
