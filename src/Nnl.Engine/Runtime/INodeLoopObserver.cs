namespace Nnl.Engine.Runtime;

/// <summary>
/// Brackets the node loop of each forward pass of a <see cref="ComputationTableRunner"/>: called
/// after the batch is on the device and before the logits come back (the GPU runner records the
/// loop's kernels there and replays them as one CUDA graph).
/// </summary>
public interface INodeLoopObserver
{
    /// <summary>The table's nodes are about to run for <paramref name="batch"/>.</summary>
    void NodesStarting(TokenBatch batch);

    /// <summary>Node <paramref name="index"/> has run (its work is queued).</summary>
    void NodeFinished(int index) { }

    /// <summary>The loop is over: every node ran (<paramref name="completed"/>), or one threw or the pass was cancelled.</summary>
    void NodesFinished(bool completed);
}
