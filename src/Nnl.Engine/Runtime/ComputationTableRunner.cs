namespace Nnl.Engine.Runtime;

/// <summary>
/// Runs a whole table node by node, in order, on one backend: acquire node i's weights from the
/// binder, execute it, release the weights and the activations no later node reads. This is the
/// CPU engine's loop; the GPU offload scheduler runs the same steps with prefetching around them.
/// </summary>
public sealed class ComputationTableRunner : IModelRunner
{
    private readonly IDisposable[] _owned;

    /// <param name="owned">Disposed with the runner, last first (the binder, the backend, the weight files).</param>
    public ComputationTableRunner(ComputationTable table, IComputeBackend backend, IWeightBinder binder, params IDisposable[] owned)
    {
        Table = table;
        Backend = backend;
        Binder = binder;
        _owned = owned;
    }

    public ComputationTable Table { get; }
    public string Device => Backend.Name;
    public IComputeBackend Backend { get; }
    public IWeightBinder Binder { get; }

    /// <summary>Told when each pass's node loop starts and ends; null = nobody.</summary>
    public INodeLoopObserver? NodeLoop { get; set; }

    /// <summary>
    /// One forward pass: writes the batch's keys and values into <paramref name="cache"/> and
    /// returns logits [batch.OutputRows.Length, vocab], row-major.
    /// </summary>
    public float[] Forward(TokenBatch batch, KvCache cache, CancellationToken cancellation = default)
    {
        using var backendBatch = Backend.PrepareBatch(batch);
        var logits = ForwardOnDevice(backendBatch, cache, cancellation);
        try
        {
            var result = new float[logits.ElementCount];
            Backend.Download(logits, result);
            return result;
        }
        finally
        {
            Backend.Release(logits);
        }
    }

    /// <summary>
    /// One forward pass of a batch the backend already holds, its logits left where the backend keeps
    /// them: the caller releases the tensor (a greedy pipeline takes its argmax on the device). Nothing
    /// here waits for the device.
    /// </summary>
    public BackendTensor ForwardOnDevice(BackendBatch batch, KvCache cache, CancellationToken cancellation = default)
    {
        using var context = new ForwardContext(Backend, batch, cache);
        NodeLoop?.NodesStarting(batch.Host);
        var completed = false;
        try
        {
            for (var i = 0; i < Table.Count; i++)
            {
                cancellation.ThrowIfCancellationRequested();
                RunNode(i, context);
                NodeLoop?.NodeFinished(i);
            }
            completed = true;
        }
        finally
        {
            NodeLoop?.NodesFinished(completed);
        }
        return context.Take(ComputationTable.LogitsOutput);
    }

    /// <summary>Node i with its weights bound, then releases what is dead.</summary>
    public void RunNode(int index, ForwardContext context)
    {
        var node = Table[index];
        var weights = Binder.Acquire(node);
        try
        {
            Table.Architecture.Execute(node, weights, context);
        }
        finally
        {
            context.EndNode();
            Binder.Release(node, weights);
        }
        // Outputs of earlier nodes whose last reader was this node are dead now.
        for (var p = 0; p <= index; p++)
        {
            if (Table.LastUseOfOutputs(p) != index) continue;
            foreach (var output in Table[p].Outputs)
                if (output != ComputationTable.LogitsOutput) context.ReleaseActivation(output);
        }
    }

    public KvCache CreateKvCache(int slots, int capacity) => new(Backend, Table.KvCache, slots, capacity);

    public NnlOffloadStatistics? TakeStatistics() => null;

    public void Dispose()
    {
        for (var i = _owned.Length - 1; i >= 0; i--) _owned[i].Dispose();
    }
}
