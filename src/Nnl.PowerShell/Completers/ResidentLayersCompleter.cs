using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;

namespace Nnl.PowerShell.Completers;

/// <summary>Offers Auto for -ResidentLayers (numbers are typed).</summary>
public sealed class ResidentLayersCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        if ("Auto".StartsWith((wordToComplete ?? "").Trim('\'', '"'), StringComparison.OrdinalIgnoreCase))
            yield return new CompletionResult("Auto", "Auto", CompletionResultType.ParameterValue, "As many blocks as the GPU budget holds");
    }
}
