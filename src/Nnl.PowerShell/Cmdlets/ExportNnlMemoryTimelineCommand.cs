using System.Management.Automation;
using Nnl.Engine.Commands;

namespace Nnl.PowerShell.Cmdlets;

[Cmdlet(VerbsData.Export, "NnlMemoryTimeline")]
[OutputType(typeof(NnlMemoryTimelinePicture))]
public sealed class ExportNnlMemoryTimelineCommand : NnlCmdlet
{
    [Parameter(Mandatory = true, Position = 0)]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = "";

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(Completers.DeviceCompleter))]
    [ValidateRange(0, 1024)]
    public int Device { get; set; }

    [Parameter]
    [ValidateRange(300, 20000)]
    public int Width { get; set; } = 1400;

    [Parameter]
    [ValidateRange(200, 20000)]
    public int Height { get; set; } = 800;

    [Parameter]
    public SwitchParameter ByEventNumber { get; set; }

    [Parameter]
    public string? Title { get; set; }

    protected override void ProcessRecord() =>
        Run(new ExportMemoryTimelineCommand
        {
            Device = Device, Path = GetUnresolvedProviderPathFromPSPath(Path), Width = Width, Height = Height, ByEventNumber = ByEventNumber, Title = Title,
        }, Path);
}
