namespace Nnl.Engine.Runtime;

/// <summary>A node's weights as backend tensors, by role. Whoever binds them owns them.</summary>
public sealed class NodeWeights
{
    private readonly Dictionary<string, BackendTensor> _byRole;

    public NodeWeights(ComputationNode node, IReadOnlyDictionary<string, BackendTensor> byRole)
    {
        Node = node;
        _byRole = new Dictionary<string, BackendTensor>(byRole);
        foreach (var w in node.Weights)
            if (!_byRole.ContainsKey(w.Role)) throw new ArgumentException($"Node {node.Name}: weight '{w.Role}' ({w.Tensor.Name}) is not bound.");
    }

    public ComputationNode Node { get; }

    public BackendTensor this[string role] => _byRole.TryGetValue(role, out var t)
        ? t
        : throw new KeyNotFoundException($"Node {Node.Name} has no weight '{role}'.");

    /// <summary>The weight, or null where the variant has none (a bias).</summary>
    public BackendTensor? Optional(string role) => _byRole.GetValueOrDefault(role);

    public IReadOnlyDictionary<string, BackendTensor> ByRole => _byRole;
}

/// <summary>
/// Decides which memory holds node i's weights while it runs. The CPU binder keeps every weight
/// resident (converted at load); the GPU offload scheduler hands out device buffers it streamed in
/// ahead of time. Architecture code never knows which.
/// </summary>
public interface IWeightBinder
{
    /// <summary>The node's weights, ready on the backend (may wait for a prefetch to land).</summary>
    NodeWeights Acquire(ComputationNode node);

    /// <summary>The node has run (its operations are queued); non-resident weights may be reused once they finish.</summary>
    void Release(ComputationNode node, NodeWeights weights);
}
