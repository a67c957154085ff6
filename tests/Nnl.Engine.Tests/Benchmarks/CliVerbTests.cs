using Nnl.Cli;
using Nnl.Cli.Verbs;
using Nnl.Engine.Commands;
using Nnl.Engine.Tests.Presets;

namespace Nnl.Engine.Tests.Benchmarks;

public sealed class CliVerbTests
{
    [Fact]
    public void Bench_reads_lists_sizes_and_the_positional_model()
    {
        var args = new CliArgs(["/models/m", "--max-gpu-memory", "2GB,4GB", "--max-gpu-memory", "8GB", "--prefetch-depth", "1,3",
            "--batch-size", "1,4", "--tokens", "9", "--repetitions", "5", "--chart", "c.svg"], ["json", "in-memory"]);
        var c = Assert.IsType<MeasureInferenceCommand>(new BenchVerb().CreateCommand(args));
        Assert.Equal("/models/m", c.Path);
        Assert.Equal(new[] { 2L << 30, 4L << 30, 8L << 30 }, c.MaxGpuMemory);
        Assert.Equal(new[] { 1, 3 }, c.PrefetchDepth);
        Assert.Equal(new[] { 1, 4 }, c.BatchSize);
        Assert.Equal(new[] { 32 }, c.PromptLength);
        Assert.Equal(new[] { 9 }, c.Tokens);
        Assert.Equal(5, c.Repetitions);
        Assert.Equal("c.svg", c.ChartPath);
        Assert.True(c.UseCudaGraphs);
        Assert.Empty(args.Unused);
    }

    [Fact]
    public void No_cuda_graphs_turns_the_graph_replay_off_for_bench_and_generate()
    {
        var flags = CliApp.FlagNames;
        var bench = Assert.IsType<MeasureInferenceCommand>(new BenchVerb().CreateCommand(new CliArgs(["/models/m", "--no-cuda-graphs"], flags)));
        Assert.False(bench.UseCudaGraphs);
        var generate = Assert.IsType<ImportAndGenerateCommand>(new GenerateVerb().CreateCommand(new CliArgs(["/models/m", "--prompt", "x", "--no-cuda-graphs", "--device", "Cuda"], flags)));
        Assert.False(generate.Import.UseCudaGraphs);
        var plain = Assert.IsType<ImportAndGenerateCommand>(new GenerateVerb().CreateCommand(new CliArgs(["/models/m", "--prompt", "x"], flags)));
        Assert.True(plain.Import.UseCudaGraphs);
    }

    [Fact]
    public void Kv_cache_names_the_cache_type_for_bench_and_generate_and_leaves_it_to_the_weights_otherwise()
    {
        var flags = CliApp.FlagNames;
        var bench = Assert.IsType<MeasureInferenceCommand>(new BenchVerb().CreateCommand(new CliArgs(["/models/m", "--kv-cache", "fp32"], flags)));
        Assert.Equal("fp32", bench.KvCacheType);
        var generate = Assert.IsType<ImportAndGenerateCommand>(new GenerateVerb().CreateCommand(new CliArgs(["/models/m", "--prompt", "x", "--kv-cache", "bf16", "--device", "Cuda"], flags)));
        Assert.Equal("bf16", generate.Import.KvCacheType);
        var plain = Assert.IsType<ImportAndGenerateCommand>(new GenerateVerb().CreateCommand(new CliArgs(["/models/m", "--prompt", "x"], flags)));
        Assert.Null(plain.Import.KvCacheType);
    }

    [Fact]
    public void New_model_then_bench_through_the_cli_prints_json_records()
    {
        using var dir = new TempDirectory();
        var target = dir.Sub("m");
        var output = new StringWriter();
        var error = new StringWriter();
        Assert.Equal(0, CliApp.Run(["new-model", "--preset", "gpt2", "--layers", "1", "--path", target, "--force", "--json"], output, error));
        Assert.Contains("\"Architecture\":\"GPT2LMHeadModel\"", output.ToString());

        output = new StringWriter();
        Assert.Equal(0, CliApp.Run(["bench", target, "--prompt-length", "4", "--tokens", "2,3", "--warmup", "0", "--repetitions", "1", "--json"], output, error));
        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        Assert.All(lines, l => Assert.Contains("\"DecodeMillisecondsPerTokenMedian\":", l));

        // A non-empty directory without --force is refused with the argument error id and exit code 2.
        error = new StringWriter();
        Assert.Equal(2, CliApp.Run(["new-model", "--preset", "gpt2", "--path", target], new StringWriter(), error));
        Assert.Contains("[InvalidArgument]", error.ToString());
    }
}
