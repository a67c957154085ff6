using System.Management.Automation;
using Nnl.Engine.Commands;
using Nnl.Engine.Generation;
using Nnl.Engine.Models.Synthetic;

namespace Nnl.PowerShell.Cmdlets;

[Cmdlet(VerbsCommon.New, "NnlModel", DefaultParameterSetName = PresetSet, SupportsShouldProcess = false)]
[OutputType(typeof(NnlGeneratedModel), typeof(NnlModel))]
public sealed class NewNnlModelCommand : NnlCmdlet
{
    private const string PresetSet = "Preset", ConfigSet = "Config";

    [Parameter(Mandatory = true, Position = 0, ParameterSetName = PresetSet)]
    [ArgumentCompleter(typeof(Completers.PresetCompleter))]
    [ValidateNotNullOrEmpty]
    public string Preset { get; set; } = "";

    [Parameter(Mandatory = true, ParameterSetName = ConfigSet)]
    [ValidateNotNullOrEmpty]
    public string Config { get; set; } = "";

    [Parameter(Position = 1)]
    public string? Path { get; set; }

    [Parameter]
    [ValidateSet("fp16", "bf16", "fp32", IgnoreCase = true)]
    public string DType { get; set; } = "fp16";

    [Parameter]
    public int Seed { get; set; }

    [Parameter]
    [ValidateRange(1, 10000)]
    public int? Layers { get; set; }

    [Parameter]
    public SwitchParameter Force { get; set; }

    [Parameter]
    public SwitchParameter InMemory { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string Device { get; set; } = "Cpu";

    [Parameter]
    [ValidateRange(1L << 20, long.MaxValue)]
    public long MaxShardSize { get; set; } = ModelDirectoryWriter.DefaultMaxShardBytes;

    protected override void ProcessRecord() => Run(new NewModelCommand
    {
        Preset = ParameterSetName == PresetSet ? Preset : null,
        Config = ParameterSetName == ConfigSet ? GetUnresolvedProviderPathFromPSPath(Config) : null,
        Path = Path is null ? null : GetUnresolvedProviderPathFromPSPath(Path),
        DType = DType,
        Seed = Seed,
        Layers = Layers,
        Force = Force,
        InMemory = InMemory,
        Device = Device,
        MaxShardBytes = MaxShardSize,
    }, Path);
}
