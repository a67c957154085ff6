using Nnl.Engine.Generation;
using Nnl.Engine.Models;
using Nnl.Engine.Models.Architectures;
using Nnl.Engine.Runtime;
using Nnl.Engine.Runtime.Cpu;
using Nnl.Engine.Tests.Models;

namespace Nnl.Engine.Tests.Runtime;

/// <summary>The node loop: activations die after their last reader, nothing leaks on completion or cancellation, sharding changes nothing.</summary>
public sealed class ComputationTableRunnerTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Counts acquisitions and can cancel when a given node is acquired.</summary>
    private sealed class WatchingBinder(IWeightBinder inner, int cancelAtNode, CancellationTokenSource cts) : IWeightBinder
    {
        public List<int> Acquired { get; } = new();

        public NodeWeights Acquire(ComputationNode node)
        {
            Acquired.Add(node.Index);
            if (node.Index == cancelAtNode) cts.Cancel();
            return inner.Acquire(node);
        }

        public void Release(ComputationNode node, NodeWeights weights) => inner.Release(node, weights);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(2)]
    public void BackendMemoryReturnsToWeightsPlusCacheAfterAPass(int cancelAtNode)
    {
        TestModelWriter.WriteGpt2(_dir.Path, new Gpt2Shape(Layers: 3), seed: 4);
        var config = ModelConfig.Load(_dir.Path);
        using var weights = WeightCatalog.Open(_dir.Path);
        var table = ModelArchitectures.Create(config).BuildTable(weights);
        using var backend = new CpuBackend();
        using var resident = new ResidentWeightBinder(table, backend, weights);
        using var cts = new CancellationTokenSource();
        var binder = new WatchingBinder(resident, cancelAtNode, cts);
        var runner = new ComputationTableRunner(table, backend, binder);
        using var cache = runner.CreateKvCache(1, 16);
        var before = backend.AllocatedBytes;

        var batch = TokenBatch.Single(new[] { 3, 1, 4, 1, 5 }, allLogits: true);
        if (cancelAtNode < 0)
        {
            var logits = runner.Forward(batch, cache, cts.Token);
            Assert.Equal(5 * config.VocabSize, logits.Length);
            Assert.Equal(Enumerable.Range(0, table.Count), binder.Acquired);
        }
        else
        {
            Assert.ThrowsAny<OperationCanceledException>(() => runner.Forward(batch, cache, cts.Token));
            Assert.Equal(Enumerable.Range(0, cancelAtNode + 1), binder.Acquired); // stopped before the next node
        }
        Assert.Equal(before, backend.AllocatedBytes);
        Assert.True(backend.PeakBytes > before);
    }

    /// <summary>Notes what the runner tells it, and which nodes the binder had acquired at each call.</summary>
    private sealed class LoopLog(WatchingBinder binder) : INodeLoopObserver
    {
        public List<string> Calls { get; } = new();

        public void NodesStarting(TokenBatch batch) => Calls.Add($"start {batch.RowCount} rows after {binder.Acquired.Count} nodes");

        public void NodesFinished(bool completed) => Calls.Add($"finish {completed} after {binder.Acquired.Count} nodes");
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(1)]
    public void TheNodeLoopObserverBracketsEveryNodeAndHearsOfACancelledLoop(int cancelAtNode)
    {
        TestModelWriter.WriteGpt2(_dir.Path, new Gpt2Shape(Layers: 2), seed: 6);
        var config = ModelConfig.Load(_dir.Path);
        using var weights = WeightCatalog.Open(_dir.Path);
        var table = ModelArchitectures.Create(config).BuildTable(weights);
        using var backend = new CpuBackend();
        using var resident = new ResidentWeightBinder(table, backend, weights);
        using var cts = new CancellationTokenSource();
        var binder = new WatchingBinder(resident, cancelAtNode, cts);
        var log = new LoopLog(binder);
        var runner = new ComputationTableRunner(table, backend, binder) { NodeLoop = log };
        using var cache = runner.CreateKvCache(1, 16);
        var batch = TokenBatch.Single(new[] { 2, 7, 1 });
        if (cancelAtNode < 0)
        {
            runner.Forward(batch, cache, cts.Token);
            Assert.Equal(new[] { "start 3 rows after 0 nodes", $"finish True after {table.Count} nodes" }, log.Calls);
        }
        else
        {
            Assert.ThrowsAny<OperationCanceledException>(() => runner.Forward(batch, cache, cts.Token));
            Assert.Equal(new[] { "start 3 rows after 0 nodes", $"finish False after {cancelAtNode + 1} nodes" }, log.Calls);
        }
    }

    [Fact]
    public void ShardedAndSingleFileModelsGiveTheSameLogits()
    {
        var shape = new LlamaShape(Layers: 3);
        TestModelWriter.WriteLlama(_dir.File("single"), shape, seed: 12);
        var sharded = TestModelWriter.WriteLlama(_dir.File("sharded"), shape, seed: 12);
        TestModelWriter.Shard(sharded, 4);

        float[] Logits(string path)
        {
            using var model = LoadedModel.LoadCpu(path, cancellation: Ct);
            using var cache = model.Runner.CreateKvCache(1, 8);
            return model.Runner.Forward(TokenBatch.Single(new[] { 9, 8, 7, 6 }, allLogits: true), cache, Ct);
        }
        Assert.Equal(Logits(_dir.File("single")), Logits(_dir.File("sharded")));
    }
}
