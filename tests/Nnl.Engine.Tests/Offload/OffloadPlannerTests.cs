using Nnl.Engine.Models;
using Nnl.Engine.Models.Architectures;
using Nnl.Engine.Runtime;
using Nnl.Engine.Runtime.Offload;
using Nnl.Engine.Tests.Models;

namespace Nnl.Engine.Tests.Offload;

public class OffloadPlannerTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("nnl-plan-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private ComputationTable Gpt2Table(out WeightCatalog catalog)
    {
        TestModelWriter.WriteGpt2(_dir, new Gpt2Shape(Hidden: 256, Layers: 8, Heads: 4, Vocab: 1000, Positions: 64), seed: 3, TensorDType.F16);
        catalog = WeightCatalog.Open(_dir);
        return ModelArchitectures.Create(ModelConfig.Load(_dir)).BuildTable(catalog);
    }

    private static OffloadOptions Options(int depth = 2, int? resident = null) =>
        new() { PrefetchDepth = depth, ResidentLayers = resident, ContextLength = 64, MaxPrefillRows = 64 };

    [Fact]
    public void AModelThatFitsStaysResidentAndStreamsNothing()
    {
        var table = Gpt2Table(out var catalog);
        using var _ = catalog;
        var plan = OffloadPlanner.Plan(table, Options(), 8L << 30);
        Assert.True(plan.IsFullyResident);
        Assert.Equal(0, plan.StreamedBytesPerPass);
        Assert.Equal(table.WeightBytes, plan.ResidentWeightBytes);
    }

    [Fact]
    public void UnderABudgetThePlanFitsAndStreamsExactlyTheNonResidentBytes()
    {
        var table = Gpt2Table(out var catalog);
        using var _ = catalog;
        var fixedBytes = OffloadPlanner.Plan(table, Options() with { StreamAllNodes = true }, 8L << 30);
        long floor = fixedBytes.StreamingBufferBytes + fixedBytes.KvCacheBytes + fixedBytes.ActivationBytes + OffloadPlanner.FixedMarginBytes;
        foreach (long extra in new[] { 0L, table.WeightBytes / 5, table.WeightBytes / 2 })
        {
            long budget = floor + extra;
            var plan = OffloadPlanner.Plan(table, Options(), budget);
            Assert.True(plan.PlannedGpuBytes + OffloadPlanner.FixedMarginBytes <= budget, $"planned {plan.PlannedGpuBytes} over budget {budget}");
            long streamed = table.Nodes.Where(n => plan.StreamedLayouts[n.Index] is not null)
                .Sum(n => n.Weights.Where(w => plan.PlacementOf(w.Tensor) != WeightPlacement.Resident).Sum(w => w.ByteCount));
            Assert.Equal(streamed, plan.StreamedBytesPerPass);
            // Embedding tables are read in place, never streamed.
            Assert.Null(plan.StreamedLayouts[0]);
            Assert.All(table[0].Weights, w => Assert.NotEqual(WeightPlacement.Streamed, plan.PlacementOf(w.Tensor)));
        }
        var tight = OffloadPlanner.Plan(table, Options(), floor);
        var roomy = OffloadPlanner.Plan(table, Options(), floor + table.WeightBytes / 2);
        Assert.True(roomy.ResidentWeightBytes > tight.ResidentWeightBytes);
        Assert.True(roomy.StreamedBytesPerPass < tight.StreamedBytesPerPass);
    }

    [Theory]
    [InlineData(TensorDType.F16, 2)]
    [InlineData(TensorDType.BF16, 2)]
    [InlineData(TensorDType.F32, 4)]
    public void TheKvCacheIsPlannedInItsElementTypeAndWhatItSavesStaysResident(TensorDType type, int elementBytes)
    {
        var table = Gpt2Table(out var catalog);
        using var _ = catalog;
        var options = Options() with { KvCacheType = type, ContextLength = 4096 };
        var plan = OffloadPlanner.Plan(table, options, 8L << 30);
        // K and V, every layer, every planned token: 8 layers of width 256 here.
        Assert.Equal(2L * 8 * 256 * elementBytes * 4096, plan.KvCacheBytes);
        Assert.Equal(type, options.KvCacheOf(table).ElementType);
        // Unset, the cache takes the weights' type (this table is fp16).
        Assert.Equal(TensorDType.F16, (options with { KvCacheType = null }).KvCacheOf(table).ElementType);

        // Under a budget, the half-size cache leaves room for more resident weights.
        var f32 = OffloadPlanner.Plan(table, options with { KvCacheType = TensorDType.F32, StreamAllNodes = true }, 8L << 30);
        long budget = f32.StreamingBufferBytes + f32.KvCacheBytes + f32.ActivationBytes + OffloadPlanner.FixedMarginBytes + table.WeightBytes / 4;
        var narrow = OffloadPlanner.Plan(table, options with { KvCacheType = TensorDType.F32 }, budget);
        var planned = OffloadPlanner.Plan(table, options, budget);
        if (type == TensorDType.F32) Assert.Equal(narrow.ResidentWeightBytes, planned.ResidentWeightBytes);
        else Assert.True(planned.ResidentWeightBytes > narrow.ResidentWeightBytes, $"{planned.ResidentWeightBytes} resident with {type}, {narrow.ResidentWeightBytes} with F32");
    }

    [Fact]
    public void TheHeadIsPlannedForTheLogitRowsAPassReturnsNotForThePrefillRows()
    {
        // A narrow model with a GPT-2-sized vocabulary: its logits, not its blocks, decide the estimate.
        TestModelWriter.WriteGpt2(_dir, new Gpt2Shape(Hidden: 64, Layers: 2, Heads: 2, Vocab: 50000, Positions: 64), seed: 5, TensorDType.F16);
        using var catalog = WeightCatalog.Open(_dir);
        var table = ModelArchitectures.Create(ModelConfig.Load(_dir)).BuildTable(catalog);
        var head = table.Nodes.Single(n => n.Kind == ComputationNodeKind.Head);
        var prefill = Options() with { MaxPrefillRows = 512, ContextLength = 512 };
        long Activations(int logitRows) => OffloadPlanner.ActivationBytes(table, prefill with { MaxLogitRows = logitRows });
        // The head's 50,000-wide logits dominate at 512 rows; at 64 rows a block's workspace does.
        Assert.True(Activations(512) >= 3 * head.OutputBytesPerRow * 512);
        Assert.True(Activations(64) < Activations(512));
        Assert.True(Activations(1) < Activations(64)); // still the head, for fewer rows
        Assert.True(Activations(64) < 3 * head.OutputBytesPerRow * 128);
        Assert.Throws<NnlArgumentException>(() => (prefill with { MaxLogitRows = 0 }).Validate());
    }

    [Fact]
    public void AKvCacheOfAnotherTypeIsRefused() =>
        Assert.Equal("KvCacheType", Assert.Throws<NnlArgumentException>(() => new OffloadOptions { KvCacheType = (TensorDType)99 }.Validate()).ParameterName);

    [Fact]
    public void ResidentLayersKeepsThatManyBlocksFromTheEnd()
    {
        var table = Gpt2Table(out var catalog);
        using var _ = catalog;
        var plan = OffloadPlanner.Plan(table, Options(resident: 3), 2L << 30);
        var residentBlocks = table.Nodes.Where(n => n.Kind == ComputationNodeKind.TransformerBlock && plan.StreamedLayouts[n.Index] is null).Select(n => n.Layer).ToArray();
        Assert.Equal(new[] { 5, 6, 7 }, residentBlocks);
        var e = Assert.Throws<NnlArgumentException>(() => OffloadPlanner.Plan(table, Options(resident: 9), 2L << 30));
        Assert.Equal("ResidentLayers", e.ParameterName);
    }

    [Fact]
    public void ABudgetTooSmallToStreamSaysWhatItNeeds()
    {
        var table = Gpt2Table(out var catalog);
        using var _ = catalog;
        var e = Assert.Throws<NnlArgumentException>(() => OffloadPlanner.Plan(table, Options(), 4L << 20));
        Assert.Equal("MaxGpuMemory", e.ParameterName);
        Assert.Contains("too small", e.Message);
        Assert.Contains("prefetch depth 1", e.Message); // deeper ones were tried first
    }

    [Fact]
    public void ABudgetThatCannotHoldTheRequestedDepthGetsTheDeepestThatFits()
    {
        var table = Gpt2Table(out var catalog);
        using var _ = catalog;
        var d1 = OffloadPlanner.Plan(table, Options(1) with { StreamAllNodes = true }, 2L << 30);
        long budget = d1.StreamingBufferBytes + d1.KvCacheBytes + d1.ActivationBytes + OffloadPlanner.FixedMarginBytes + d1.LargestStreamedNodeBytes / 2;
        var plan = OffloadPlanner.Plan(table, Options(4) with { StreamAllNodes = true }, budget);
        Assert.Equal(1, plan.Options.PrefetchDepth);
        Assert.True(plan.DepthLowered);
        Assert.False(OffloadPlanner.Plan(table, Options(4) with { StreamAllNodes = true }, 2L << 30).DepthLowered);
    }

    [Fact]
    public void DeeperPrefetchNeedsMoreStreamingBuffers()
    {
        var table = Gpt2Table(out var catalog);
        using var _ = catalog;
        var d1 = OffloadPlanner.Plan(table, Options(1) with { StreamAllNodes = true }, 2L << 30);
        var d4 = OffloadPlanner.Plan(table, Options(4) with { StreamAllNodes = true }, 2L << 30);
        Assert.Equal(2 * d1.LargestStreamedNodeBytes, d1.StreamingBufferBytes);
        Assert.Equal(5 * d4.LargestStreamedNodeBytes, d4.StreamingBufferBytes);
        Assert.Equal(d1.StreamedBytesPerPass, d4.StreamedBytesPerPass);
    }

    [Fact]
    public void LayoutsAlignEveryTensorAndCoverItsBytes()
    {
        var table = Gpt2Table(out var catalog);
        using var _ = catalog;
        var plan = OffloadPlanner.Plan(table, Options() with { StreamAllNodes = true }, 2L << 30);
        foreach (var layout in plan.StreamedLayouts.Where(l => l is not null))
        {
            var spans = layout!.Tensors.Select(t => (Start: layout.Offsets[t.Name], End: layout.Offsets[t.Name] + t.ByteCount)).OrderBy(s => s.Start).ToArray();
            Assert.All(spans, s => Assert.Equal(0, s.Start % NodeLayout.Alignment));
            for (int i = 1; i < spans.Length; i++) Assert.True(spans[i].Start >= spans[i - 1].End);
            Assert.True(spans[^1].End <= layout.Bytes);
        }
    }
}
