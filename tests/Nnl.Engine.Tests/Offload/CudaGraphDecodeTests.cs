using static Nnl.Engine.Tests.Offload.LogitAssertions;
using Nnl.Engine.Generation;
using Nnl.Engine.Memory;
using Nnl.Engine.Models;
using Nnl.Engine.Runtime;
using Nnl.Engine.Runtime.Cuda;
using Nnl.Engine.Runtime.Offload;
using Nnl.Engine.Tests.Models;

namespace Nnl.Engine.Tests.Offload;

/// <summary>
/// Fully resident decode steps replayed as CUDA graphs against the same steps launched kernel by
/// kernel and against the CPU engine: a 58-token prefill (not recorded: more rows than GEMV takes)
/// and 16 decode steps, teacher-forced with the CPU's greedy tokens, whose context crosses 64
/// positions, where split attention goes from one split to two (a grid change in every layer).
/// Prints the nodes each step updated in the cached graph.
/// </summary>
[Trait("Category", "Gpu")]
[Collection("Gpu")]
public class CudaGraphDecodeTests : IDisposable
{
    private const int PromptLength = 58, DecodeSteps = 16, Capacity = 80;

    private readonly string _dir = Directory.CreateTempSubdirectory("nnl-graph-").FullName;
    private readonly ITestOutputHelper _output;

    public CudaGraphDecodeTests(ITestOutputHelper output) { _output = output; }

    public void Dispose() => Directory.Delete(_dir, true);

    private int Write(string model)
    {
        if (model == "gpt2-f16")
        {
            TestModelWriter.WriteGpt2(_dir, new Gpt2Shape(Hidden: 128, Layers: 4, Heads: 4, Vocab: 301, Positions: 128), seed: 31, TensorDType.F16);
            return 4;
        }
        TestModelWriter.WriteLlama(_dir, new LlamaShape(Hidden: 128, Layers: 3, Heads: 8, KvHeads: 2, Intermediate: 344, Vocab: 333, MaxPositions: 128),
            seed: 32, TensorDType.BF16);
        return 3;
    }

    private static OffloadOptions Options(bool graphs) => new()
    {
        MaxGpuMemoryBytes = 1L << 30,
        ContextLength = Capacity,
        MaxPrefillRows = 64,
        UseCudaGraphs = graphs,
    };

    /// <summary>
    /// Resident GPT-2 with every decode step's blocks as the whole-block kernel (CudaBackend.FuseDecoderBlock,
    /// off by default), in graph steps with programmatic launch where the GPU has it: the logits of
    /// every step match the CPU engine, and every block of every decode step ran as one kernel.
    /// </summary>
    [GpuFact]
    public void TheWholeBlockKernelDecodesLikeTheCpu()
    {
        int layers = Write("gpt2-f16");
        using var cpu = LoadedModel.LoadCpu(_dir);
        using var gpu = LoadedModel.LoadGpu(_dir, Options(graphs: true));
        var runner = (OffloadRunner)gpu.Runner;
        Assert.True(runner.Plan.IsFullyResident);
        runner.Backend.FuseDecoderBlock = true;
        var rng = new Random(83);
        int vocab = cpu.Config.VocabSize;
        var prompt = Enumerable.Range(0, PromptLength).Select(_ => rng.Next(vocab)).ToArray();
        using var cpuCache = cpu.Runner.CreateKvCache(1, Capacity);
        using var gpuCache = gpu.Runner.CreateKvCache(1, Capacity);
        var expected = cpu.Runner.Forward(TokenBatch.Single(prompt), cpuCache);
        AssertClose(expected, gpu.Runner.Forward(TokenBatch.Single(prompt), gpuCache), vocab, "prefill");
        Assert.Equal(0L, runner.Backend.FusedDecoderBlocks);   // many rows: composed
        int next = Argmax(expected);
        for (int step = 0; step < DecodeSteps; step++)
        {
            var batch = TokenBatch.Single([next], startPosition: PromptLength + step);
            expected = cpu.Runner.Forward(batch, cpuCache);
            AssertClose(expected, gpu.Runner.Forward(batch, gpuCache), vocab, $"decode step {step}");
            Assert.True(runner.Backend.FusedDecoderBlocks == (long)layers * (step + 1),
                $"step {step}: {runner.Backend.FusedDecoderBlocks} blocks ran as one kernel ({runner.Backend.DecoderBlockCompositionReason})");
            next = Argmax(expected);
        }
    }

    [GpuTheory]
    [InlineData("gpt2-f16")]
    [InlineData("llama-gqa-bf16")]
    public void GraphStepsGiveTheLogitsOfDirectLaunchesAndTheCpu(string model)
    {
        int layers = Write(model);
        var pool = DeviceMemoryPool.ForDevice(0);
        long before = pool.Statistics().AllocatedBytes;
        using var cpu = LoadedModel.LoadCpu(_dir);
        using (var graphed = LoadedModel.LoadGpu(_dir, Options(graphs: true)))
        using (var direct = LoadedModel.LoadGpu(_dir, Options(graphs: false)))
        {
            var runner = (OffloadRunner)graphed.Runner;
            Assert.True(runner.Plan.IsFullyResident);
            Assert.True(runner.UsesCudaGraphs);
            Assert.False(((OffloadRunner)direct.Runner).UsesCudaGraphs);
            // 64 positions a split (the contexts here would otherwise be one split throughout): at 65
            // the attention launch changes, which a replay must pick up (asserted below).
            runner.Backend.ForcedSplitLength = 64;
            ((OffloadRunner)direct.Runner).Backend.ForcedSplitLength = 64;
            runner.Backend.MinGraphSegmentLaunches = 1; // a segment per node, counted below
            var rng = new Random(model.GetHashCode());
            int vocab = cpu.Config.VocabSize;
            var prompt = Enumerable.Range(0, PromptLength).Select(_ => rng.Next(vocab)).ToArray();
            using var cpuCache = cpu.Runner.CreateKvCache(1, Capacity);
            using var graphCache = graphed.Runner.CreateKvCache(1, Capacity);
            using var directCache = direct.Runner.CreateKvCache(1, Capacity);

            var prefill = TokenBatch.Single(prompt);
            var expected = cpu.Runner.Forward(prefill, cpuCache);
            var g = graphed.Runner.Forward(prefill, graphCache);
            var d = direct.Runner.Forward(prefill, directCache);
            AssertClose(expected, g, vocab, "prefill (graphs on)");
            AssertClose(expected, d, vocab, "prefill (graphs off)");
            Assert.Equal(0L, runner.GraphStatistics.Replays + runner.GraphStatistics.Fallbacks); // prefill is not recorded

            int next = Argmax(expected);
            var log = new List<string>();
            double worstDiff = 0;
            for (int step = 0; step < DecodeSteps; step++)
            {
                var batch = TokenBatch.Single([next], startPosition: PromptLength + step);
                var before1 = runner.GraphStatistics;
                var e = cpu.Runner.Forward(batch, cpuCache);
                g = graphed.Runner.Forward(batch, graphCache);
                d = direct.Runner.Forward(batch, directCache);
                var after = runner.GraphStatistics;
                AssertClose(e, g, vocab, $"decode step {step} (graphs on)");
                AssertClose(e, d, vocab, $"decode step {step} (graphs off)");
                // The same kernels with the same arguments: the two GPU runs agree to rounding noise at most.
                for (int j = 0; j < vocab; j++) worstDiff = Math.Max(worstDiff, Math.Abs(g[j] - d[j]) / Math.Max(1, Math.Abs(d[j])));

                string what = after.Fallbacks > before1.Fallbacks ? $"fell back ({after.LastFallbackReason})"
                    : after.Rebuilds > before1.Rebuilds ? $"built {after.LastNodeCount} nodes"
                    : $"replayed {after.LastNodeCount} nodes, updated {after.LastUpdatedNodes}";
                log.Add($"step {step} (context {batch.MaxContext}): {what}");
                Assert.Equal(1L, after.Replays + after.Fallbacks - before1.Replays - before1.Fallbacks);
                // The runner cuts the step after every node; each segment's graph is built once: in the
                // first decode step, or the second for the segments after a first-step fallback.
                if (step >= 2) Assert.True(after.Rebuilds == before1.Rebuilds, $"step {step} rebuilt {after.Rebuilds - before1.Rebuilds} segments");

                // Split attention takes 64 keys a split (forced above): at 65 positions every layer's
                // attention node gets a second split, so a replay there updates at least one node per layer.
                bool splitsChanged = (batch.MaxContext - 1) / 64 != (batch.MaxContext - 2) / 64;
                if (splitsChanged && after.Rebuilds == before1.Rebuilds && after.Replays > before1.Replays)
                    Assert.True(after.LastUpdatedNodes >= layers, $"step {step}: the split count changed but only {after.LastUpdatedNodes} nodes were updated");
                next = Argmax(e);
            }
            var s = runner.GraphStatistics;
            _output.WriteLine($"{model}: {s}; graph vs direct max relative difference {worstDiff:G3}");
            foreach (var line in log) _output.WriteLine("  " + line);
            Assert.True(worstDiff <= 1e-5, $"graph and direct logits differ by {worstDiff:G3}");
            // The first decode step zeroes the split-merge counters (a fill on the stream): it may fall back.
            Assert.InRange(s.Fallbacks, 0, 1);
            Assert.Equal(DecodeSteps - s.Fallbacks, s.Replays);
            int segments = runner.Table.Count;  // one per node (every node launches kernels)
            Assert.True(s.Rebuilds == segments, $"every decode step runs the same kernels in {segments} segments, yet {s.Rebuilds} segment graphs were built");
            Assert.Equal(0L, ((OffloadRunner)direct.Runner).GraphStatistics.Replays);
        }
        // The graphs, the shared batch block and everything else went back with the runners.
        Assert.Equal(before, pool.Statistics().AllocatedBytes);
    }

    [GpuFact]
    public void StepsThatQueueOtherStreamWorkFallBackAndStayCorrect()
    {
        Write("llama-gqa-bf16");
        using var cpu = LoadedModel.LoadCpu(_dir);
        using var gpu = LoadedModel.LoadGpu(_dir, Options(graphs: true));
        var runner = (OffloadRunner)gpu.Runner;
        // Every matrix product through cuBLAS (or the GEMM where cuBLAS is missing): cuBLAS queues
        // its own work on the stream, which a recording cannot hold, so each such step falls back.
        runner.Backend.ForcedMatMulPath = CudaMatMulPath.Cublas;
        var rng = new Random(5);
        int vocab = cpu.Config.VocabSize;
        var prompt = Enumerable.Range(0, 6).Select(_ => rng.Next(vocab)).ToArray(); // 6 rows: recorded too
        using var cpuCache = cpu.Runner.CreateKvCache(1, Capacity);
        using var gpuCache = gpu.Runner.CreateKvCache(1, Capacity);
        var e = cpu.Runner.Forward(TokenBatch.Single(prompt), cpuCache);
        AssertClose(e, gpu.Runner.Forward(TokenBatch.Single(prompt), gpuCache), vocab, "prefill");
        int next = Argmax(e);
        for (int step = 0; step < 4; step++)
        {
            var batch = TokenBatch.Single([next], startPosition: prompt.Length + step);
            e = cpu.Runner.Forward(batch, cpuCache);
            AssertClose(e, gpu.Runner.Forward(batch, gpuCache), vocab, $"decode step {step}");
            next = Argmax(e);
        }
        var s = runner.GraphStatistics;
        _output.WriteLine($"cuBLAS {(runner.Backend.UsesCublas ? "on" : "off")}: {s}");
        if (runner.Backend.UsesCublas)
        {
            Assert.Equal(5L, s.Fallbacks);
            Assert.Equal(0L, s.Replays);
        }
        Assert.Equal(5L, s.Replays + s.Fallbacks);
    }
}
