using System.Management.Automation;
using Nnl.Engine.Benchmarks;
using Nnl.Engine.Commands;

namespace Nnl.PowerShell.Cmdlets;

/// <summary>Collects the piped benchmark points and writes one chart at the end.</summary>
[Cmdlet(VerbsData.Export, "NnlChart")]
[OutputType(typeof(FileInfo))]
public sealed class ExportNnlChartCommand : NnlCmdlet
{
    private readonly List<NnlInferenceBenchmark> _points = new();

    [Parameter(Mandatory = true, ValueFromPipeline = true)]
    public NnlInferenceBenchmark[] InputObject { get; set; } = Array.Empty<NnlInferenceBenchmark>();

    [Parameter(Mandatory = true, Position = 0)]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = "";

    [Parameter]
    public string? Title { get; set; }

    protected override void ProcessRecord() => _points.AddRange(InputObject);

    protected override void EndProcessing() =>
        Run(new ExportChartCommand { InputObject = _points, Path = GetUnresolvedProviderPathFromPSPath(Path), Title = Title }, Path);
}
