using static Nnl.Engine.Tests.Offload.LogitAssertions;
using Nnl.Engine.Generation;
using Nnl.Engine.Memory;
using Nnl.Engine.Models;
using Nnl.Engine.Runtime;
using Nnl.Engine.Runtime.Offload;
using Nnl.Engine.Tests.Models;

namespace Nnl.Engine.Tests.Offload;

/// <summary>
/// The GPU offload engine against the CPU reference engine on the same fp16/bf16 files: logits of
/// every prompt position and of 16 decode steps (teacher-forced with the CPU's greedy tokens), with
/// every node streamed, with a mixed plan, fully resident (fp16 and fp32 KV cache) and streamed from disk.
/// </summary>
[Trait("Category", "Gpu")]
[Collection("Gpu")]
public class OffloadParityTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("nnl-offload-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    public enum Mode { StreamAll, Mixed, Resident, Disk, ResidentF32Cache }

    public static TheoryData<string, Mode> Cases()
    {
        var data = new TheoryData<string, Mode>();
        foreach (var model in new[] { "gpt2-f16", "llama-gqa-bf16", "qwen2-f16" })
            foreach (var mode in Enum.GetValues<Mode>())
                data.Add(model, mode);
        return data;
    }

    private void Write(string model)
    {
        switch (model)
        {
            case "gpt2-f16":
                TestModelWriter.WriteGpt2(_dir, new Gpt2Shape(Hidden: 128, Layers: 6, Heads: 4, Vocab: 301, Positions: 64), seed: 21, TensorDType.F16);
                break;
            case "llama-gqa-bf16":
                TestModelWriter.WriteLlama(_dir, new LlamaShape(Hidden: 128, Layers: 5, Heads: 8, KvHeads: 2, Intermediate: 344, Vocab: 333, MaxPositions: 128,
                    Llama3Scaling: true, OriginalMaxPositions: 16), seed: 22, TensorDType.BF16);
                break;
            default:
                TestModelWriter.WriteLlama(_dir, new LlamaShape("Qwen2ForCausalLM", Hidden: 96, Layers: 4, Heads: 6, KvHeads: 2, Intermediate: 200, Vocab: 257, MaxPositions: 128),
                    seed: 23, TensorDType.F16);
                break;
        }
    }

    private static OffloadOptions Options(Mode mode) => new()
    {
        MaxGpuMemoryBytes = mode is Mode.Resident or Mode.ResidentF32Cache ? 2L << 30 : 400L << 20,
        KvCacheType = mode == Mode.ResidentF32Cache ? TensorDType.F32 : null, // null: the weights' type
        StreamAllNodes = mode is Mode.StreamAll or Mode.Disk,
        ResidentLayers = mode == Mode.Mixed ? 2 : null,
        HostCache = mode != Mode.Disk,
        PrefetchDepth = mode == Mode.Mixed ? 1 : 2,
        ContextLength = 64,
        MaxPrefillRows = 64,
    };

    [GpuTheory]
    [MemberData(nameof(Cases))]
    public void GpuLogitsMatchTheCpuEngine(string model, Mode mode)
    {
        Write(model);
        var pool = DeviceMemoryPool.ForDevice(0);
        long before = pool.Statistics().AllocatedBytes;
        using var cpu = LoadedModel.LoadCpu(_dir);
        using (var gpu = LoadedModel.LoadGpu(_dir, Options(mode)))
        {
            var runner = (OffloadRunner)gpu.Runner;
            Assert.Equal(mode is Mode.Resident or Mode.ResidentF32Cache, runner.Plan.IsFullyResident);
            if (mode is Mode.StreamAll or Mode.Disk) Assert.Equal(runner.Plan.Table.Count - 1, runner.Plan.StreamedNodeCount);
            // GPT-2's four Conv1D matrices per resident block are stored as nn.Linear; streamed ones keep their layout.
            int residentBlocks = runner.Plan.Table.Nodes.Count(n => n.Kind == ComputationNodeKind.TransformerBlock && runner.Plan.StreamedLayouts[n.Index] is null);
            Assert.Equal(model.StartsWith("gpt2") ? 4 * residentBlocks : 0, runner.TransposedWeightCount);
            if (mode is Mode.Resident or Mode.ResidentF32Cache) Assert.True(runner.TransposedWeightCount > 0 || !model.StartsWith("gpt2"));
            var rng = new Random(model.GetHashCode() ^ (int)mode);
            int vocab = cpu.Config.VocabSize;
            var prompt = Enumerable.Range(0, 13).Select(_ => rng.Next(vocab)).ToArray();
            using var cpuCache = cpu.Runner.CreateKvCache(1, 40);
            using var gpuCache = gpu.Runner.CreateKvCache(1, 40);
            Assert.Equal(mode == Mode.ResidentF32Cache ? TensorDType.F32 : model.EndsWith("bf16") ? TensorDType.BF16 : TensorDType.F16, gpuCache.Keys(0).DType);
            var expected = cpu.Runner.Forward(TokenBatch.Single(prompt, allLogits: true), cpuCache);
            var actual = gpu.Runner.Forward(TokenBatch.Single(prompt, allLogits: true), gpuCache);
            AssertClose(expected, actual, vocab, "prefill");
            Assert.Equal(runner.Plan.StreamedBytesPerPass, gpu.Runner.TakeStatistics()!.StreamedBytes);
            // The backend keeps small buffers of its own after the first pass (rope tables, scratch):
            // from here on, the pool must hold exactly as much after every step.
            gpu.Runner.Quiesce();
            long steady = pool.Statistics().AllocatedBytes;

            int next = Argmax(expected.AsSpan(expected.Length - vocab));
            for (int step = 0; step < 16; step++)
            {
                var batch = TokenBatch.Single([next], startPosition: prompt.Length + step);
                var e = cpu.Runner.Forward(batch, cpuCache);
                var a = gpu.Runner.Forward(batch, gpuCache);
                AssertClose(e, a, vocab, $"decode step {step}");
                Assert.Equal(runner.Plan.StreamedBytesPerPass, gpu.Runner.TakeStatistics()!.StreamedBytes);
                next = Argmax(e);
            }
            gpu.Runner.Quiesce();
            AssertNoStreamedWeightsLive(pool);
            // What remains beyond the steady state is the backend's own scratch, which grows with the context.
            Assert.InRange(pool.Statistics().AllocatedBytes - steady, 0, 1L << 20);
            Assert.True(pool.Statistics().PeakReservedBytes <= runner.Plan.BudgetBytes);
        }
        Assert.Equal(before, pool.Statistics().AllocatedBytes);
    }

    /// <summary>Streaming, and fully resident (decode steps replayed as CUDA graph segments when cancelled).</summary>
    [GpuTheory]
    [InlineData(Mode.StreamAll)]
    [InlineData(Mode.Resident)]
    public void CancellingAGenerationLeavesThePoolAsItWas(Mode mode)
    {
        Write("llama-gqa-bf16");
        var pool = DeviceMemoryPool.ForDevice(0);
        using var gpu = LoadedModel.LoadGpu(_dir, Options(mode));
        Assert.Equal(mode == Mode.Resident, ((OffloadRunner)gpu.Runner).UsesCudaGraphs);
        var generator = new TextGenerator(gpu);
        // A first, complete generation lets the backend make its own lasting buffers.
        generator.Generate([new GenerationPrompt("", [3, 1, 4])], new GenerationOptions { MaxNewTokens = 3, Temperature = 0 });
        long afterImport = pool.Statistics().AllocatedBytes;
        using var cts = new CancellationTokenSource();
        int tokens = 0;
        Assert.ThrowsAny<OperationCanceledException>(() => generator.Generate(
            [new GenerationPrompt("", Enumerable.Range(1, 9).ToArray())],
            new GenerationOptions { MaxNewTokens = 200, Temperature = 0 },
            t => { if (++tokens == 5) cts.Cancel(); }, cts.Token));
        Assert.Equal(5, tokens);
        AssertNoStreamedWeightsLive(pool);
        Assert.InRange(pool.Statistics().AllocatedBytes - afterImport, 0, 1L << 20);
    }

    /// <summary>Weights fetched ahead for a pass that will not come are back in the pool.</summary>
    private static void AssertNoStreamedWeightsLive(DeviceMemoryPool pool) =>
        Assert.DoesNotContain(pool.LiveAllocations(), a => a.Owner.EndsWith(" weights", StringComparison.Ordinal));
}
