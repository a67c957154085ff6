using Nnl.Engine.Benchmarks;
using Nnl.Engine.Commands;
using Nnl.Engine.Generation;
using Nnl.Engine.Models.Synthetic;
using Nnl.Engine.Runtime;
using Nnl.Engine.Tests.Presets;

namespace Nnl.Engine.Tests.Benchmarks;

/// <summary>Generated models on the GPU offload runner: the generator as the pinned packer's source, and a budget sweep.</summary>
[Trait("Category", "Gpu")]
[Collection("Gpu")]
public sealed class GpuBenchmarkTests
{
    [GpuFact]
    public void Generated_in_memory_model_on_the_gpu_matches_its_written_copy()
    {
        using var dir = new TempDirectory();
        var config = TinyConfigs.WriteConfig(dir, TinyConfigs.Qwen2());
        var target = dir.Sub("m");
        new NewModelCommand { Config = config, Path = target, Seed = 21 }.Execute(new CollectingSink());
        var synthetic = SyntheticModel.FromConfigFile(config, seed: 21);

        // No resident blocks: every block streams, so the generator fills the pinned buffers the copy stream reads.
        using var fromDisk = ModelLoader.Load(new ModelLoadRequest { Path = target, Device = "Cuda:0", ResidentLayers = 0, PrefetchDepth = 1, ContextLength = 64 });
        using var inMemory = ModelLoader.Load(new ModelLoadRequest { Synthetic = synthetic, Device = "Cuda:0", ResidentLayers = 0, PrefetchDepth = 1, ContextLength = 64 });
        Assert.True(((global::Nnl.Engine.Runtime.Offload.OffloadRunner)inMemory.Runner).Plan.StreamedNodeCount >= 4);
        using var cpu = LoadedModel.LoadCpu(target);
        var prompt = new[] { 3, 141, 59, 265, 35, 89, 79, 3 };
        float[] Logits(LoadedModel m)
        {
            using var cache = m.Runner.CreateKvCache(1, 32);
            return m.Runner.Forward(TokenBatch.Single(prompt, allLogits: true), cache);
        }
        var disk = Logits(fromDisk);
        Assert.Equal(disk, Logits(inMemory));
        var reference = Logits(cpu);
        var scale = reference.Max(Math.Abs);
        for (var i = 0; i < reference.Length; i++)
            Assert.True(Math.Abs(reference[i] - disk[i]) <= 2e-3 * Math.Max(1, scale), $"logit {i}: GPU {disk[i]} vs CPU {reference[i]}");
    }

    [GpuFact]
    public void Budget_sweep_of_a_generated_llama_reports_streaming_bound_and_efficiency()
    {
        var sink = new CollectingSink();
        new MeasureInferenceCommand
        {
            Preset = "llama-2-7b", Layers = 4, InMemory = true, Device = "Cuda:0",
            MaxGpuMemory = new[] { 1536L << 20, 8L << 30 }, PrefetchDepth = new[] { 1 },
            PromptLength = new[] { 16 }, Tokens = new[] { 8 }, Warmup = 1, Repetitions = 2,
        }.Execute(sink);
        var records = sink.RecordsOf<NnlInferenceBenchmark>().ToList();
        Assert.Equal(2, records.Count);
        var (tight, ample) = (records[0], records[1]);
        Assert.StartsWith("Cuda", tight.Device);
        Assert.Equal(1536L << 20, tight.BudgetBytes);
        Assert.True(tight.StreamedBytesPerToken > 0);
        Assert.True(tight.ResidentNodes < tight.Nodes);
        Assert.True(tight.BoundMillisecondsPerToken > 0);
        Assert.InRange(tight.Efficiency!.Value, 0.01, 1.2);
        Assert.True(tight.PcieGBps > 1);
        Assert.InRange(tight.PeakGpuMemoryBytes!.Value, 1, 1536L << 20);
        Assert.True(ample.ResidentNodes >= tight.ResidentNodes);
        Assert.True((ample.StreamedBytesPerToken ?? 0) < tight.StreamedBytesPerToken);
        Assert.True(ample.DecodeMillisecondsPerTokenMedian < tight.DecodeMillisecondsPerTokenMedian);
    }
}
