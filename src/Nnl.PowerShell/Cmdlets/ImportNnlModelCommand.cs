using System.Management.Automation;
using Nnl.Engine.Commands;
using Nnl.Engine.Generation;

namespace Nnl.PowerShell.Cmdlets;

/// <summary>Loads a Hugging Face model directory on the CPU or a GPU (offloaded under a budget); one NnlModel per path.</summary>
[Cmdlet(VerbsData.Import, "NnlModel")]
[OutputType(typeof(NnlModel))]
public sealed class ImportNnlModelCommand : NnlCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [Alias("FullName", "PSPath")]
    [ArgumentCompleter(typeof(Completers.ModelPathCompleter))]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = "";

    [Parameter]
    [ArgumentCompleter(typeof(Completers.ModelDeviceCompleter))]
    [ValidateNotNullOrEmpty]
    public string Device { get; set; } = "Cpu";

    [Parameter]
    [ValidateRange(1L, long.MaxValue)]
    public long? MaxGpuMemory { get; set; }

    [Parameter]
    [ValidateRange(1, 16)]
    public int PrefetchDepth { get; set; } = 2;

    /// <summary>A block count or Auto: a string so `-ResidentLayers Auto` reads as it does in the docs.</summary>
    [Parameter]
    [ArgumentCompleter(typeof(Completers.ResidentLayersCompleter))]
    [ValidatePattern(@"^\s*(\d+|[Aa][Uu][Tt][Oo])\s*$")]
    public string? ResidentLayers { get; set; }

    [Parameter]
    public SwitchParameter NoHostCache { get; set; }

    [Parameter]
    public SwitchParameter NoCudaGraph { get; set; }

    [Parameter]
    [ValidateSet("fp16", "bf16", "fp32", IgnoreCase = true)]
    public string? KvCacheType { get; set; }

    [Parameter]
    [ValidateRange(1, 1 << 24)]
    public int ContextLength { get; set; } = 512;

    [Parameter]
    [ValidateRange(1, 1024)]
    public int? Threads { get; set; }

    protected override void ProcessRecord() => Run(new ImportModelCommand
    {
        Path = GetUnresolvedProviderPathFromPSPath(Path),
        Device = Device,
        MaxGpuMemory = MaxGpuMemory,
        PrefetchDepth = PrefetchDepth,
        ResidentLayers = ResidentLayersArgument.Parse(ResidentLayers),
        HostCache = !NoHostCache,
        UseCudaGraphs = !NoCudaGraph,
        KvCacheType = KvCacheType,
        ContextLength = ContextLength,
        Threads = Threads,
    }, Path);
}
