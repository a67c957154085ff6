using System.Management.Automation;
using Nnl.Engine.Commands;
using Nnl.Engine.Generation;

namespace Nnl.PowerShell.Cmdlets;

/// <summary>Releases what imported models hold (weights, mapped files, GPU memory, pinned host memory).</summary>
[Cmdlet(VerbsCommon.Remove, "NnlModel", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(void))]
public sealed class RemoveNnlModelCommand : NnlCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNull]
    public NnlModel[] Model { get; set; } = [];

    protected override void ProcessRecord()
    {
        foreach (var model in Model)
            if (ShouldProcess($"{model.Name} on {model.Device} ({model.Path})", "Remove model")) Run(new RemoveModelCommand { Model = [model] }, model);
    }
}
