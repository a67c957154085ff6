using Nnl.Engine.Benchmarks;

namespace Nnl.Engine.Commands;

/// <summary>Export-NnlChart: the SVG chart of benchmark points (decode time per token and the PCIe bound against budget); writes the file's FileInfo.</summary>
public sealed class ExportChartCommand : INnlCommand
{
    public required IReadOnlyList<NnlInferenceBenchmark> InputObject { get; init; }
    public required string Path { get; init; }
    public string? Title { get; init; }

    public void Execute(ICommandSink sink)
    {
        if (string.IsNullOrWhiteSpace(Path)) throw new NnlArgumentException(nameof(Path), "A file to write the chart to is required.");
        if (InputObject is not { Count: > 0 }) throw new NnlArgumentException(nameof(InputObject), "There are no benchmark points to chart (pipe Measure-NnlInference's output).");
        var full = System.IO.Path.GetFullPath(Path);
        InferenceChart.Write(InputObject, full, Title);
        sink.WriteRecord(new FileInfo(full));
    }
}
