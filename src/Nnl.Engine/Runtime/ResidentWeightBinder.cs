using Nnl.Engine.Models;

namespace Nnl.Engine.Runtime;

/// <summary>
/// Binds every weight of a table once, up front, and keeps it on the backend (the CPU engine, and
/// a GPU run where everything fits). A tied head shares the embedding's tensor.
/// </summary>
public sealed class ResidentWeightBinder : IWeightBinder, IDisposable
{
    private readonly IComputeBackend _backend;
    private readonly Dictionary<string, BackendTensor> _byTensor = new(StringComparer.Ordinal);
    private readonly NodeWeights[] _nodes;

    /// <param name="progress">Called after each tensor with (bytes bound so far, total bytes).</param>
    public ResidentWeightBinder(ComputationTable table, IComputeBackend backend, WeightCatalog weights,
        Action<long, long>? progress = null, CancellationToken cancellation = default)
    {
        _backend = backend;
        var total = table.WeightBytes;
        long done = 0;
        try
        {
            foreach (var info in table.DistinctWeights)
            {
                cancellation.ThrowIfCancellationRequested();
                _byTensor[info.Name] = backend.CreateWeight(info, weights.GetBytes(info));
                done += info.ByteCount;
                progress?.Invoke(done, total);
            }
        }
        catch
        {
            Dispose();
            throw;
        }
        _nodes = table.Nodes
            .Select(n => new NodeWeights(n, n.Weights.ToDictionary(w => w.Role, w => _byTensor[w.Tensor.Name])))
            .ToArray();
    }

    public NodeWeights Acquire(ComputationNode node) => _nodes[node.Index];

    public void Release(ComputationNode node, NodeWeights weights) { }

    public void Dispose()
    {
        foreach (var t in _byTensor.Values) _backend.Release(t);
        _byTensor.Clear();
    }
}
