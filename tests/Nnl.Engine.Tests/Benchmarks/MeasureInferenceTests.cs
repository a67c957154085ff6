using System.Xml.Linq;
using Nnl.Engine.Benchmarks;
using Nnl.Engine.Commands;
using Nnl.Engine.Generation;
using Nnl.Engine.Runtime;
using Nnl.Engine.Tests.Presets;

namespace Nnl.Engine.Tests.Benchmarks;

public sealed class MeasureInferenceTests
{
    private static string TinyModel(TempDirectory dir)
    {
        var config = TinyConfigs.WriteConfig(dir, TinyConfigs.Llama());
        var target = dir.Sub("model");
        new NewModelCommand { Config = config, Path = target, Layers = 2, Seed = 1 }.Execute(new CollectingSink());
        return target;
    }

    [Fact]
    public void Cpu_sweep_writes_one_sane_record_per_point_and_a_chart()
    {
        using var dir = new TempDirectory();
        var model = TinyModel(dir);
        var chart = dir.Sub("sweep.svg");
        var sink = new CollectingSink();
        new MeasureInferenceCommand
        {
            Path = model,
            MaxGpuMemory = new[] { 1L << 30, 2L << 30 },
            BatchSize = new[] { 1, 2 },
            PromptLength = new[] { 5 },
            Tokens = new[] { 4 },
            Warmup = 1,
            Repetitions = 2,
            ChartPath = chart,
            Threads = 1,
        }.Execute(sink);

        var records = sink.RecordsOf<NnlInferenceBenchmark>().ToList();
        Assert.Equal(4, records.Count);
        Assert.Equal(new long?[] { 1L << 30, 1L << 30, 2L << 30, 2L << 30 }, records.Select(r => r.BudgetBytes));
        Assert.Equal(new[] { 1, 2, 1, 2 }, records.Select(r => r.BatchSize));
        foreach (var r in records)
        {
            Assert.Equal("model", r.Model);
            Assert.Equal("Cpu", r.Device);
            Assert.InRange(r.DecodeMillisecondsPerTokenMin, 1e-6, r.DecodeMillisecondsPerTokenMedian);
            Assert.InRange(r.DecodeMillisecondsPerTokenMax, r.DecodeMillisecondsPerTokenMedian, 10_000);
            Assert.Equal(r.BatchSize * 1000 / r.DecodeMillisecondsPerTokenMedian, r.DecodeTokensPerSecond, 9);
            Assert.True(r.PrefillTokensPerSecond > 0);
            Assert.True(r.LoadSeconds >= 0);
            // The CPU streams nothing: every node resident, no bound.
            Assert.Equal(r.Nodes, r.ResidentNodes);
            Assert.Equal(5, r.Nodes); // embedding, two blocks, final norm, head
            Assert.Null(r.StreamedBytesPerToken);
            Assert.Null(r.BoundMillisecondsPerToken);
            Assert.Null(r.Efficiency);
            Assert.Null(r.PcieGBps);
        }
        Assert.Contains(sink.Warnings, w => w.Contains("MaxGpuMemory", StringComparison.Ordinal));
        Assert.True(sink.Progress.Last().Completed);
        Assert.Contains(sink.Progress, p => p.Status.StartsWith("Point 4 of 4", StringComparison.Ordinal));

        var svg = XDocument.Load(chart);
        XNamespace ns = "http://www.w3.org/2000/svg";
        Assert.Equal(4, svg.Descendants(ns + "circle").Count(c => (string?)c.Attribute("class") == InferenceChart.MeasuredClass));
    }

    [Fact]
    public void Preset_is_written_to_a_temporary_directory_and_removed_afterwards()
    {
        using var dir = new TempDirectory();
        var sink = new CollectingSink();
        new MeasureInferenceCommand
        {
            Preset = "gpt2", Layers = 1, TempRoot = dir.Path,
            PromptLength = new[] { 3 }, Tokens = new[] { 2 }, Warmup = 0, Repetitions = 1,
        }.Execute(sink);
        var r = Assert.Single(sink.RecordsOf<NnlInferenceBenchmark>());
        Assert.Equal("gpt2 (1 layers)", r.Model);
        Assert.Empty(Directory.GetFileSystemEntries(dir.Path));
    }

    [Fact]
    public void In_memory_preset_needs_no_disk()
    {
        var sink = new CollectingSink();
        new MeasureInferenceCommand
        {
            Preset = "gpt2", Layers = 1, InMemory = true, Threads = 2,
            PromptLength = new[] { 2 }, Tokens = new[] { 2 }, Warmup = 0, Repetitions = 1,
            FreeSpace = new FixedFreeSpace(0),
        }.Execute(sink);
        var r = Assert.Single(sink.RecordsOf<NnlInferenceBenchmark>());
        Assert.Equal(4, r.Nodes); // embedding, one block, final norm, head
        const long h = 768, vocab = 50257, positions = 1024;
        var block = 4 * h + (h * 3 * h + 3 * h) + (h * h + h) + (h * 4 * h + 4 * h) + (4 * h * h + h);
        Assert.Equal(2 * (vocab * h + positions * h + block + 2 * h), r.WeightBytes); // fp16, head tied to the embedding
    }

    [Fact]
    public void Bad_parameters_are_refused_before_loading()
    {
        Assert.Throws<NnlArgumentException>(() => new MeasureInferenceCommand().Execute(new CollectingSink()));
        Assert.Equal("MaxGpuMemory", Assert.Throws<NnlArgumentException>(() =>
            new MeasureInferenceCommand { Preset = "gpt2", MaxGpuMemory = new[] { 1L << 30, -5 } }.Execute(new CollectingSink())).ParameterName);
        Assert.Equal("Tokens", Assert.Throws<NnlArgumentException>(() => new BenchmarkWorkload(1, 4, 1, 0, 1, 0).Validate(100)).ParameterName);
        Assert.Equal("PromptLength", Assert.Throws<NnlArgumentException>(() => new BenchmarkWorkload(1, 90, 20, 0, 1, 0).Validate(100)).ParameterName);
    }

    /// <summary>A CPU runner that reports offload statistics as an offloading runner would.</summary>
    private sealed class StreamingRunner(IModelRunner inner, long bytesPerPass, double transferMs, double gbps) : IModelRunner
    {
        private int _passes;
        public ComputationTable Table => inner.Table;
        public string Device => "Fake:0";
        public KvCache CreateKvCache(int slots, int capacity) => inner.CreateKvCache(slots, capacity);
        public float[] Forward(TokenBatch batch, KvCache cache, CancellationToken cancellation = default) { _passes++; return inner.Forward(batch, cache, cancellation); }
        public NnlOffloadStatistics? TakeStatistics()
        {
            if (_passes == 0) return null;
            var s = new NnlOffloadStatistics(bytesPerPass * _passes, transferMs * _passes, 1, 0.5, 123_456_789, gbps);
            _passes = 0;
            return s;
        }
        public void Dispose() => inner.Dispose();
    }

    [Fact]
    public void Bound_efficiency_and_pcie_rate_follow_from_the_runner_statistics()
    {
        using var dir = new TempDirectory();
        using var model = LoadedModel.LoadCpu(TinyModel(dir));
        var runner = new StreamingRunner(model.Runner, bytesPerPass: 500_000_000, transferMs: 12.5, gbps: 50);
        var work = new BenchmarkWorkload(1, 4, 5, 1, 2, 3);
        var m = InferenceBenchmark.Run(runner, work);
        Assert.Equal(2 * 4, m.DecodeStepMilliseconds.Count);
        Assert.Equal(2, m.PrefillMilliseconds.Count);

        var r = InferenceBenchmark.ToRecord("tiny", runner, new ModelLoadRequest { Path = "x", Device = "Fake:0", MaxGpuMemoryBytes = 1 << 30, PrefetchDepth = 2 }, work, m, 0.1);
        Assert.Equal(500_000_000, r.StreamedBytesPerToken);
        Assert.Equal(10.0, r.BoundMillisecondsPerToken!.Value, 9); // 0.5 GB at 50 GB/s
        Assert.Equal(10.0 / r.DecodeMillisecondsPerTokenMedian, r.Efficiency!.Value, 9);
        Assert.Equal(40.0, r.PcieGBps!.Value, 9); // 0.5 GB in 12.5 ms
        Assert.Equal(123_456_789, r.PeakGpuMemoryBytes);
        Assert.Null(r.ResidentNodes); // it streams, and has no plan to say what stays
        Assert.Equal(1L << 30, r.BudgetBytes);
        Assert.Equal(2, r.PrefetchDepth);
    }

    /// <summary>
    /// Pipelined step times pair up around a late pick-up (long, then short): the mean is the decode time
    /// over the steps, which the median and the extremes need not be.
    /// </summary>
    [Fact]
    public void The_mean_is_the_decode_time_over_the_steps()
    {
        using var dir = new TempDirectory();
        using var model = LoadedModel.LoadCpu(TinyModel(dir));
        var work = new BenchmarkWorkload(1, 4, 6, 0, 1, 3);
        double[] steps = [1.44, 1.44, 2.10, 0.98, 1.44];   // mean 1.48, median 1.44
        var m = new BenchmarkMeasurement([2.0], steps, null, null, Pipelined: true);
        var r = InferenceBenchmark.ToRecord("tiny", model.Runner, new ModelLoadRequest { Path = "x" }, work, m, 0.1);
        Assert.Equal(1.48, r.DecodeMillisecondsPerTokenMean, 12);
        Assert.Equal(1.44, r.DecodeMillisecondsPerTokenMedian, 12);
        Assert.Equal(0.98, r.DecodeMillisecondsPerTokenMin, 12);
        Assert.Equal(2.10, r.DecodeMillisecondsPerTokenMax, 12);
        Assert.True(r.GreedyPipeline);
    }

    [Fact]
    public void Median_of_even_and_odd_counts()
    {
        Assert.Equal(2.0, BenchmarkMeasurement.Median(new[] { 3.0, 1, 2 }));
        Assert.Equal(2.5, BenchmarkMeasurement.Median(new[] { 4.0, 1, 2, 3 }));
    }
}
