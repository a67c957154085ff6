using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using Nnl.Engine.Cuda;

namespace Nnl.PowerShell.Completers;

/// <summary>Completes device indexes with the GPU's name as the tooltip; nothing when there is no driver.</summary>
public sealed class DeviceCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        if (!CudaDriver.IsAvailable) yield break;
        var pattern = new WildcardPattern((wordToComplete ?? "") + "*", WildcardOptions.IgnoreCase);
        for (int i = 0; i < CudaDriver.DeviceCount; i++)
        {
            string text = i.ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (!pattern.IsMatch(text)) continue;
            string name = NnlDevice.Query(i).Name;
            yield return new CompletionResult(text, $"{i}: {name}", CompletionResultType.ParameterValue, name);
        }
    }
}
