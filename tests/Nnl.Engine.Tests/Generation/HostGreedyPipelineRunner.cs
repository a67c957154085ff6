using Nnl.Engine.Runtime;
using Nnl.Engine.Tests.Offload;

namespace Nnl.Engine.Tests.Generation;

/// <summary>
/// A runner whose greedy pipeline does on the host what the GPU's does on the device: each queued step
/// runs at once through the inner runner, its ids are the first largest logit of each row, and a step
/// with idsFromDevice reads the ids the step queued before it chose. It checks the pipeline's contract
/// (at most two queued, rows matching, every row an output) and records what it was asked, so tests
/// can hold the generation loop and the benchmark to the Forward path's tokens. Without
/// <paramref name="offersPipeline"/> it offers none (the callers' Forward path), recording all the same.
/// </summary>
internal sealed class HostGreedyPipelineRunner(IModelRunner inner, bool offersPipeline = true) : IModelRunner
{
    private IModelRunner Inner => inner;

    public ComputationTable Table => inner.Table;
    public string Device => inner.Device;
    public KvCache CreateKvCache(int slots, int capacity) => inner.CreateKvCache(slots, capacity);
    public NnlOffloadStatistics? TakeStatistics() => inner.TakeStatistics();
    public void Dispose() => inner.Dispose();

    /// <summary>Batches given to Forward (ids as fed, positions), in order.</summary>
    public List<(int[] Ids, int[] Positions)> ForwardBatches { get; } = new();

    /// <summary>Steps queued on pipelines (ids as the step read them, positions), in order.</summary>
    public List<(int[] Ids, int[] Positions)> QueuedSteps { get; } = new();

    /// <summary>Queued steps whose ids were taken.</summary>
    public int Taken { get; private set; }

    public int PipelinesCreated { get; private set; }

    public float[] Forward(TokenBatch batch, KvCache cache, CancellationToken cancellation = default)
    {
        ForwardBatches.Add((batch.TokenIds.ToArray(), batch.Positions.ToArray()));
        return inner.Forward(batch, cache, cancellation);
    }

    public IGreedyDecodePipeline? CreateGreedyPipeline(KvCache cache)
    {
        if (!offersPipeline) return null;
        PipelinesCreated++;
        return new Pipeline(this, cache);
    }

    private sealed class Pipeline(HostGreedyPipelineRunner owner, KvCache cache) : IGreedyDecodePipeline
    {
        private readonly Queue<int[]> _queued = new();
        private int[]? _last;

        public int Pending => _queued.Count;

        public void Enqueue(TokenBatch batch, bool idsFromDevice, CancellationToken cancellation = default)
        {
            if (Pending >= IGreedyDecodePipeline.MaxPending) throw new InvalidOperationException("two steps queued already");
            Assert.Equal(Enumerable.Range(0, batch.RowCount), batch.OutputRows);
            var ids = batch.TokenIds;
            if (idsFromDevice)
            {
                Assert.NotNull(_last);
                Assert.Equal(_last!.Length, batch.RowCount);
                ids = _last;
            }
            var fed = new TokenBatch(ids.ToArray(), batch.Positions, batch.Slots, batch.OutputRows);
            owner.QueuedSteps.Add((fed.TokenIds, fed.Positions.ToArray()));
            var logits = owner.Inner.Forward(fed, cache, cancellation);
            int vocab = logits.Length / batch.RowCount;
            _last = Enumerable.Range(0, batch.RowCount).Select(r => LogitAssertions.Argmax(logits.AsSpan(r * vocab, vocab))).ToArray();
            _queued.Enqueue(_last);
        }

        public int[] Take()
        {
            owner.Taken++;
            return _queued.Dequeue();
        }

        public void Dispose() { }
    }
}
