using System.Management.Automation;
using Nnl.Engine.Commands;
using Nnl.Engine.Cuda;

namespace Nnl.PowerShell.Cmdlets;

[Cmdlet(VerbsCommon.Get, "NnlDevice")]
[OutputType(typeof(NnlDevice))]
public sealed class GetNnlDeviceCommand : NnlCmdlet
{
    [Parameter(Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(Completers.DeviceCompleter))]
    [ValidateRange(0, 1024)]
    public int[]? Index { get; set; }

    protected override void ProcessRecord() => Run(new GetDeviceCommand { Index = Index }, Index);
}
