using System.Management.Automation;
using Nnl.Engine.Commands;
using Nnl.Engine.Memory;

namespace Nnl.PowerShell.Cmdlets;

[Cmdlet(VerbsCommon.Clear, "NnlMemoryPool", SupportsShouldProcess = true)]
[OutputType(typeof(NnlMemoryPoolStatistics))]
public sealed class ClearNnlMemoryPoolCommand : NnlCmdlet
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

    protected override void ProcessRecord()
    {
        if (ShouldProcess(Device is { Length: > 0 } ? string.Join(", ", Device.Select(d => $"cuda:{d}")) : "every GPU memory pool", "Return cached memory to the driver"))
            Run(new ClearMemoryPoolCommand { Device = Device, PinnedHost = PinnedHost, PassThru = PassThru }, Device);
    }
}
