using System.Management.Automation;
using Nnl.Engine.Commands;
using Nnl.Engine.Memory;

namespace Nnl.PowerShell.Cmdlets;

[Cmdlet(VerbsCommon.Reset, "NnlMemoryPoolStatistics")]
[OutputType(typeof(NnlMemoryPoolStatistics))]
public sealed class ResetNnlMemoryPoolStatisticsCommand : NnlCmdlet
{
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("Index")]
    [ArgumentCompleter(typeof(Completers.DeviceCompleter))]
    [ValidateRange(0, 1024)]
    public int[]? Device { get; set; }

    [Parameter]
    public SwitchParameter PinnedHost { get; set; }

    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void ProcessRecord() =>
        Run(new ResetMemoryPoolStatisticsCommand { Device = Device, PinnedHost = PinnedHost, PassThru = PassThru }, Device);
}
