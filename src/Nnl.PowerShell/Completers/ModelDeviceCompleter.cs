using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using Nnl.Engine.Cuda;

namespace Nnl.PowerShell.Completers;

/// <summary>Completes where a model runs: Cpu, then Cuda:N for each GPU the driver sees (its name as the tooltip).</summary>
public sealed class ModelDeviceCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        var pattern = new WildcardPattern((wordToComplete ?? "").Trim('\'', '"') + "*", WildcardOptions.IgnoreCase);
        if (pattern.IsMatch("Cpu")) yield return new CompletionResult("Cpu", "Cpu", CompletionResultType.ParameterValue, "The CPU reference engine");
        if (!CudaDriver.IsAvailable) yield break;
        for (int i = 0; i < CudaDriver.DeviceCount; i++)
        {
            string text = "Cuda:" + i.ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (!pattern.IsMatch(text)) continue;
            string name = NnlDevice.Query(i).Name;
            yield return new CompletionResult(text, $"{text} {name}", CompletionResultType.ParameterValue, name);
        }
    }
}
