using System.Management.Automation;
using Nnl.Engine.Benchmarks;
using Nnl.Engine.Commands;

namespace Nnl.PowerShell.Cmdlets;

[Cmdlet(VerbsDiagnostic.Measure, "NnlInference", DefaultParameterSetName = PathSet)]
[OutputType(typeof(NnlInferenceBenchmark))]
public sealed class MeasureNnlInferenceCommand : NnlCmdlet
{
    private const string PathSet = "Path", PresetSet = "Preset";

    [Parameter(Mandatory = true, Position = 0, ParameterSetName = PathSet, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = "";

    [Parameter(Mandatory = true, ParameterSetName = PresetSet)]
    [ArgumentCompleter(typeof(Completers.PresetCompleter))]
    [ValidateNotNullOrEmpty]
    public string Preset { get; set; } = "";

    [Parameter(ParameterSetName = PresetSet)]
    [ValidateRange(1, 10000)]
    public int? Layers { get; set; }

    [Parameter(ParameterSetName = PresetSet)]
    [ValidateSet("fp16", "bf16", "fp32", IgnoreCase = true)]
    public string DType { get; set; } = "fp16";

    [Parameter(ParameterSetName = PresetSet)]
    public int Seed { get; set; }

    [Parameter(ParameterSetName = PresetSet)]
    public SwitchParameter InMemory { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string Device { get; set; } = "Cpu";

    [Parameter]
    [ValidateRange(1L, long.MaxValue)]
    public long[]? MaxGpuMemory { get; set; }

    [Parameter]
    [ValidateRange(1, 16)]
    public int[]? PrefetchDepth { get; set; }

    [Parameter]
    [ValidateRange(1, 4096)]
    public int[] BatchSize { get; set; } = { 1 };

    [Parameter]
    [ValidateRange(1, 1 << 20)]
    public int[] PromptLength { get; set; } = { 32 };

    [Parameter]
    [ValidateRange(2, 1 << 20)]
    public int[] Tokens { get; set; } = { 16 };

    [Parameter]
    public SwitchParameter NoHostCache { get; set; }

    [Parameter]
    public SwitchParameter NoCudaGraph { get; set; }

    [Parameter]
    [ValidateSet("fp16", "bf16", "fp32", IgnoreCase = true)]
    public string? KvCacheType { get; set; }

    [Parameter]
    [ValidateRange(0, 1000)]
    public int Warmup { get; set; } = 1;

    [Parameter]
    [ValidateRange(1, 1000)]
    public int Repetitions { get; set; } = 3;

    [Parameter]
    public string? ChartPath { get; set; }

    [Parameter]
    [ValidateRange(1, 1024)]
    public int? Threads { get; set; }

    protected override void ProcessRecord() => Run(new MeasureInferenceCommand
    {
        Path = ParameterSetName == PathSet ? GetUnresolvedProviderPathFromPSPath(Path) : null,
        Preset = ParameterSetName == PresetSet ? Preset : null,
        Layers = Layers,
        DType = DType,
        Seed = Seed,
        InMemory = InMemory,
        Device = Device,
        MaxGpuMemory = MaxGpuMemory,
        PrefetchDepth = PrefetchDepth,
        BatchSize = BatchSize,
        PromptLength = PromptLength,
        Tokens = Tokens,
        HostCache = !NoHostCache,
        UseCudaGraphs = !NoCudaGraph,
        KvCacheType = KvCacheType,
        Warmup = Warmup,
        Repetitions = Repetitions,
        ChartPath = ChartPath is null ? null : GetUnresolvedProviderPathFromPSPath(ChartPath),
        Threads = Threads,
    }, ParameterSetName == PathSet ? Path : Preset);
}
