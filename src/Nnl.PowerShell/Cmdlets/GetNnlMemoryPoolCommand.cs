using System.Management.Automation;
using Nnl.Engine.Commands;
using Nnl.Engine.Memory;

namespace Nnl.PowerShell.Cmdlets;

[Cmdlet(VerbsCommon.Get, "NnlMemoryPool", DefaultParameterSetName = "Statistics")]
[OutputType(typeof(NnlMemoryPoolStatistics), ParameterSetName = ["Statistics"])]
[OutputType(typeof(NnlMemoryBlock), typeof(NnlMemoryEvent), ParameterSetName = ["Detail"])]
public sealed class GetNnlMemoryPoolCommand : NnlCmdlet
{
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("Index")]
    [ArgumentCompleter(typeof(Completers.DeviceCompleter))]
    [ValidateRange(0, 1024)]
    public int[]? Device { get; set; }

    [Parameter(ParameterSetName = "Detail")]
    public SwitchParameter Detailed { get; set; }

    [Parameter(ParameterSetName = "Detail")]
    public SwitchParameter Timeline { get; set; }

    [Parameter]
    public SwitchParameter PinnedHost { get; set; }

    protected override void ProcessRecord() =>
        Run(new GetMemoryPoolCommand { Device = Device, Detailed = Detailed, Timeline = Timeline, PinnedHost = PinnedHost }, Device);
}
