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

    /// <summary>A tiny GPT-2 on the CPU engine, its weights resident behind a <see cref="WatchingBinder"/>.</summary>
    private sealed class CpuRig : IDisposable
    {
        private readonly WeightCatalog _weights;
        private readonly ResidentWeightBinder _resident;

        public CpuRig(string dir, Gpt2Shape shape, int seed, int cancelAtNode)
        {
            TestModelWriter.WriteGpt2(dir, shape, seed);
            Config = ModelConfig.Load(dir);
            _weights = WeightCatalog.Open(dir);
            Table = ModelArchitectures.Create(Config).BuildTable(_weights);
            Backend = new CpuBackend();
            _resident = new ResidentWeightBinder(Table, Backend, _weights);
            Binder = new WatchingBinder(_resident, cancelAtNode, Cancellation);
            Runner = new ComputationTableRunner(Table, Backend, Binder);
        }

        public ModelConfig Config { get; }
        public ComputationTable Table { get; }
        public CpuBackend Backend { get; }
        public CancellationTokenSource Cancellation { get; } = new();
        public WatchingBinder Binder { get; }
        public ComputationTableRunner Runner { get; }

        public void Dispose()
        {
            Cancellation.Dispose();
            _resident.Dispose();
            Backend.Dispose();
            _weights.Dispose();
        }
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(2)]
    public void BackendMemoryReturnsToWeightsPlusCacheAfterAPass(int cancelAtNode)
    {
        using var rig = new CpuRig(_dir.Path, new Gpt2Shape(Layers: 3), seed: 4, cancelAtNode);
        var (config, table, backend, binder, runner, cts) = (rig.Config, rig.Table, rig.Backend, rig.Binder, rig.Runner, rig.Cancellation);
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

        public void NodeFinished(int index) => Calls.Add($"node {index} after {binder.Acquired.Count} nodes");

        public void NodesFinished(bool completed) => Calls.Add($"finish {completed} after {binder.Acquired.Count} nodes");
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(1)]
    public void TheNodeLoopObserverBracketsEveryNodeAndHearsOfACancelledLoop(int cancelAtNode)
    {
        using var rig = new CpuRig(_dir.Path, new Gpt2Shape(Layers: 2), seed: 6, cancelAtNode);
        var (table, runner, cts) = (rig.Table, rig.Runner, rig.Cancellation);
        var log = new LoopLog(rig.Binder);
        runner.NodeLoop = log;
        using var cache = runner.CreateKvCache(1, 16);
        var batch = TokenBatch.Single(new[] { 2, 7, 1 });
        // Every node that ran is reported as it finishes, in order; cancelling while node c is bound
        // lets c finish and stops the loop before c + 1.
        int ran = cancelAtNode < 0 ? table.Count : cancelAtNode + 1;
        var nodes = Enumerable.Range(0, ran).Select(i => $"node {i} after {i + 1} nodes");
        if (cancelAtNode < 0)
        {
            runner.Forward(batch, cache, cts.Token);
            Assert.Equal(["start 3 rows after 0 nodes", .. nodes, $"finish True after {table.Count} nodes"], log.Calls);
        }
        else
        {
            Assert.ThrowsAny<OperationCanceledException>(() => runner.Forward(batch, cache, cts.Token));
            Assert.Equal(["start 3 rows after 0 nodes", .. nodes, $"finish False after {cancelAtNode + 1} nodes"], log.Calls);
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
