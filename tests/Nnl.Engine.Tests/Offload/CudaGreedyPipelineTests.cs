using static Nnl.Engine.Tests.Offload.LogitAssertions;
using Nnl.Engine.Generation;
using Nnl.Engine.Memory;
using Nnl.Engine.Models;
using Nnl.Engine.Runtime;
using Nnl.Engine.Runtime.Offload;
using Nnl.Engine.Tests.Models;

namespace Nnl.Engine.Tests.Offload;

/// <summary>
/// The resident GPU runner's greedy pipeline (argmax on the device, the next step queued before the
/// ids come back) against the same runner's Forward followed by the host's argmax: the same ids for
/// 20 steps whose context crosses 64 positions (with 64 a split, every layer's attention launch changes
/// there, while a step is still in flight), with graph steps and without; nothing left allocated after.
/// </summary>
[Trait("Category", "Gpu")]
[Collection("Gpu")]
public class CudaGreedyPipelineTests : IDisposable
{
    private const int PromptLength = 58, DecodeSteps = 20, Capacity = 80;

    private readonly string _dir = Directory.CreateTempSubdirectory("nnl-pipeline-").FullName;
    private readonly ITestOutputHelper _output;

    public CudaGreedyPipelineTests(ITestOutputHelper output) { _output = output; }

    public void Dispose() => Directory.Delete(_dir, true);

    private void Write(string model)
    {
        if (model == "gpt2-f16")
            TestModelWriter.WriteGpt2(_dir, new Gpt2Shape(Hidden: 128, Layers: 4, Heads: 4, Vocab: 301, Positions: 128), seed: 41, TensorDType.F16);
        else
            TestModelWriter.WriteLlama(_dir, new LlamaShape(Hidden: 128, Layers: 3, Heads: 8, KvHeads: 2, Intermediate: 344, Vocab: 333, MaxPositions: 128),
                seed: 42, TensorDType.BF16);
    }

    private static OffloadOptions Options(bool graphs, bool pipeline = true, bool streamAll = false) => new()
    {
        MaxGpuMemoryBytes = 1L << 30,
        ContextLength = Capacity,
        MaxPrefillRows = 64,
        UseCudaGraphs = graphs,
        PipelineGreedyDecode = pipeline,
        StreamAllNodes = streamAll,
    };

    /// <summary>
    /// The prompt's prefill through Forward and the host's argmax, then <paramref name="steps"/> decode steps
    /// through the pipeline: the first fed by the host, each later one by the device, always one queued ahead.
    /// </summary>
    private static List<int> DecodePipelined(OffloadRunner runner, KvCache cache, int[] prompt, int steps)
    {
        int first = Argmax(runner.Forward(TokenBatch.Single(prompt), cache));
        using var pipeline = runner.CreateGreedyPipeline(cache);
        Assert.NotNull(pipeline);
        pipeline.Enqueue(TokenBatch.Single([first], startPosition: prompt.Length), idsFromDevice: false);
        var ids = new List<int>();
        for (int step = 0; step < steps; step++)
        {
            if (step + 1 < steps)
                pipeline.Enqueue(TokenBatch.Single([-1], startPosition: prompt.Length + step + 1), idsFromDevice: true);
            Assert.Equal(step + 1 < steps ? 2 : 1, pipeline.Pending);
            ids.Add(Assert.Single(pipeline.Take()));
        }
        Assert.Equal(0, pipeline.Pending);
        return ids;
    }

    [GpuTheory]
    [InlineData("gpt2-f16", true)]
    [InlineData("gpt2-f16", false)]
    [InlineData("llama-gqa-bf16", true)]
    public void PipelinedIdsAreTheHostArgmaxOfForward(string model, bool graphs)
    {
        Write(model);
        var pool = DeviceMemoryPool.ForDevice(0);
        long before = pool.Statistics().AllocatedBytes;
        using (var gpu = LoadedModel.LoadGpu(_dir, Options(graphs)))
        {
            var runner = (OffloadRunner)gpu.Runner;
            Assert.True(runner.Plan.IsFullyResident);
            runner.Backend.ForcedSplitLength = 64;
            int vocab = gpu.Config.VocabSize;
            var rng = new Random(model.GetHashCode() ^ (graphs ? 1 : 2));
            var prompt = Enumerable.Range(0, PromptLength).Select(_ => rng.Next(vocab)).ToArray();

            // Forward, then the host's argmax.
            var expected = new List<int>();
            using (var cache = runner.CreateKvCache(1, Capacity))
            {
                int next = Argmax(runner.Forward(TokenBatch.Single(prompt), cache));
                for (int step = 0; step < DecodeSteps; step++)
                {
                    next = Argmax(runner.Forward(TokenBatch.Single([next], startPosition: PromptLength + step), cache));
                    expected.Add(next);
                }
            }

            // The pipeline: the first step fed by the host, each later one by the device, always one queued ahead.
            List<int> actual;
            long replays = runner.GraphStatistics.Replays;
            using (var cache = runner.CreateKvCache(1, Capacity))
                actual = DecodePipelined(runner, cache, prompt, DecodeSteps);
            _output.WriteLine($"{model}, graphs {graphs}: {string.Join(' ', actual)}; {runner.GraphStatistics}");
            Assert.Equal(expected, actual);
            if (graphs) Assert.True(runner.GraphStatistics.Replays - replays >= DecodeSteps - 1, "the pipelined steps replay graphs");
            var stats = runner.TakeStatistics();
            Assert.True(stats is { ComputeMilliseconds: > 0 }, "the pipeline's steps count as compute time");
        }
        Assert.Equal(before, pool.Statistics().AllocatedBytes);
    }

    /// <summary>
    /// A pipeline's first step runs with nothing in flight and is recorded in cut segments, the steps
    /// after it whole: each form keeps its graphs, so once both are built a generation rebuilds none.
    /// One shared set of graphs would be rebuilt at each switch, twice a generation. (A 9-token prompt:
    /// its prefill is not graphed.)
    /// </summary>
    [GpuFact]
    public void AWarmPipelinedGenerationRebuildsNoGraph()
    {
        Write("gpt2-f16");
        using var gpu = LoadedModel.LoadGpu(_dir, Options(graphs: true));
        var runner = (OffloadRunner)gpu.Runner;
        var rng = new Random(43);
        var prompt = Enumerable.Range(0, 9).Select(_ => rng.Next(gpu.Config.VocabSize)).ToArray();
        List<int> Generate()
        {
            using var cache = runner.CreateKvCache(1, Capacity);
            return DecodePipelined(runner, cache, prompt, 6);
        }
        // A fresh runner's first step runs kernels once (the norm fold's constants) and falls back when it
        // zeroes its split counters: the cut step's graphs are built in the second generation.
        var once = Generate();
        var second = Generate();
        var before = runner.GraphStatistics;
        var third = Generate();
        var after = runner.GraphStatistics;
        _output.WriteLine($"after the first two {before}; after the third {after}");
        Assert.Equal(once, second);
        Assert.Equal(once, third);
        Assert.Equal(before.Rebuilds, after.Rebuilds);
        Assert.True(after.Replays - before.Replays >= 6, "the third generation's steps replay graphs");
    }

    [GpuFact]
    public void ThePipelineRefusesWhatItCannotDoAndAStreamingPlanHasNone()
    {
        Write("gpt2-f16");
        using (var streamed = LoadedModel.LoadGpu(_dir, Options(graphs: true, streamAll: true)))
        using (var cache = streamed.Runner.CreateKvCache(1, Capacity))
            Assert.Null(streamed.Runner.CreateGreedyPipeline(cache));
        using (var off = LoadedModel.LoadGpu(_dir, Options(graphs: true, pipeline: false)))
        using (var cache = off.Runner.CreateKvCache(1, Capacity))
            Assert.Null(off.Runner.CreateGreedyPipeline(cache));

        using var gpu = LoadedModel.LoadGpu(_dir, Options(graphs: true));
        using var c = gpu.Runner.CreateKvCache(2, Capacity);
        using var pipeline = gpu.Runner.CreateGreedyPipeline(c)!;
        var one = TokenBatch.Single([3], startPosition: 0);
        Assert.Equal("idsFromDevice", Assert.Throws<NnlArgumentException>(() => pipeline.Enqueue(one, idsFromDevice: true)).ParameterName);
        Assert.Equal("batch", Assert.Throws<NnlArgumentException>(() => pipeline.Enqueue(TokenBatch.Single([3, 4], allLogits: false), idsFromDevice: false)).ParameterName);
        pipeline.Enqueue(one, idsFromDevice: false);
        var two = new TokenBatch([0, 0], [1, 0], [0, 1], [0, 1]);
        Assert.Equal("idsFromDevice", Assert.Throws<NnlArgumentException>(() => pipeline.Enqueue(two, idsFromDevice: true)).ParameterName);
        pipeline.Enqueue(TokenBatch.Single([-1], startPosition: 1), idsFromDevice: true);
        Assert.Throws<InvalidOperationException>(() => pipeline.Enqueue(TokenBatch.Single([-1], startPosition: 2), idsFromDevice: true));
        Assert.Single(pipeline.Take());
        Assert.Single(pipeline.Take());
        Assert.Throws<InvalidOperationException>(() => pipeline.Take());
    }

    /// <summary>
    /// Greedy generation of two prompts on the GPU with the pipeline and without: the same tokens and stop
    /// reasons, also when a stop id ends one sequence early (the step queued ahead of it is dropped).
    /// </summary>
    [GpuFact]
    public void GenerationWithThePipelineIsGenerationWithout()
    {
        Write("gpt2-f16");
        int[][] prompts = [[5, 9, 30, 41, 7, 100, 200], [12, 3, 60]];
        IReadOnlyList<NnlGenerationResult> Run(bool pipeline, GenerationOptions options)
        {
            using var model = LoadedModel.LoadGpu(_dir, Options(graphs: true, pipeline));
            return new TextGenerator(model).Generate(prompts.Select(p => new GenerationPrompt("", p)).ToArray(), options, null, TestContext.Current.CancellationToken);
        }
        var free = new GenerationOptions { MaxNewTokens = 12, StopTokenIds = Array.Empty<int>() };
        var plain = Run(false, free);
        var piped = Run(true, free);
        for (int i = 0; i < 2; i++) Assert.Equal(plain[i].TokenIds, piped[i].TokenIds);

        // A stop id that first occurs in sequence 0 after a few tokens and never in sequence 1, if there is one.
        var first = plain[0].TokenIds;
        var stop = Enumerable.Range(2, first.Count - 4).Select(i => first[i])
            .FirstOrDefault(id => first.ToList().IndexOf(id) >= 2 && !plain[1].TokenIds.Contains(id), -1);
        _output.WriteLine($"sequence 0: {string.Join(' ', plain[0].TokenIds)}; sequence 1: {string.Join(' ', plain[1].TokenIds)}; stop id {stop}");
        if (stop < 0) return;
        var options = free with { StopTokenIds = [stop] };
        plain = Run(false, options);
        piped = Run(true, options);
        Assert.Equal(StopReason.StopToken, piped[0].StopReason);
        for (int i = 0; i < 2; i++)
        {
            Assert.Equal(plain[i].TokenIds, piped[i].TokenIds);
            Assert.Equal(plain[i].StopReason, piped[i].StopReason);
        }
    }
}
