using Nnl.Engine.Models;

namespace Nnl.Engine.Runtime;

/// <summary>
/// Run-time state of one forward pass: the backend, the batch, the KV cache and the named
/// activations nodes pass to each other. Temporaries a node allocates through
/// <see cref="Temporary"/> are released when the node ends (<see cref="EndNode"/>).
/// </summary>
public sealed class ForwardContext : IDisposable
{
    private readonly Dictionary<string, BackendTensor> _activations = new();
    private readonly List<BackendTensor> _temporaries = new();

    public ForwardContext(IComputeBackend backend, BackendBatch batch, KvCache cache)
    {
        Backend = backend;
        Batch = batch;
        Cache = cache;
        foreach (var s in batch.Host.Slots)
            if ((uint)s >= (uint)cache.Slots) throw new NnlArgumentException("batch", $"Slot {s} is outside the KV cache's {cache.Slots} slots.");
        foreach (var p in batch.Host.Positions)
            if ((uint)p >= (uint)cache.Capacity) throw new NnlArgumentException("batch", $"Position {p} is beyond the KV cache's capacity of {cache.Capacity} tokens.");
    }

    public IComputeBackend Backend { get; }
    public BackendBatch Batch { get; }
    public KvCache Cache { get; }
    public int Rows => Batch.RowCount;

    /// <summary>An activation a previous node produced.</summary>
    public BackendTensor Get(string name) => _activations.TryGetValue(name, out var t)
        ? t
        : throw new InvalidOperationException($"Activation '{name}' does not exist (released or never produced).");

    public void Set(string name, BackendTensor tensor) => _activations[name] = tensor;

    /// <summary>A new F32 activation [rows, columns] that outlives the node (becomes an output via <see cref="Set"/>).</summary>
    public BackendTensor Allocate(string name, long columns, long? rows = null) =>
        Backend.Allocate(name, TensorDType.F32, rows ?? Rows, columns);

    /// <summary>A new F32 scratch tensor [rows, columns], released at the end of the node.</summary>
    public BackendTensor Temporary(string name, long columns, long? rows = null)
    {
        var t = Backend.Allocate(name, TensorDType.F32, rows ?? Rows, columns);
        _temporaries.Add(t);
        return t;
    }

    /// <summary>Releases the node's temporaries.</summary>
    public void EndNode()
    {
        foreach (var t in _temporaries) Backend.Release(t);
        _temporaries.Clear();
    }

    /// <summary>Releases an activation nobody reads any more.</summary>
    public void ReleaseActivation(string name)
    {
        if (_activations.Remove(name, out var t)) Backend.Release(t);
    }

    /// <summary>Takes an activation out without releasing it (the caller owns it now).</summary>
    public BackendTensor Take(string name)
    {
        if (!_activations.Remove(name, out var t)) throw new InvalidOperationException($"Activation '{name}' does not exist.");
        return t;
    }

    public void Dispose()
    {
        EndNode();
        foreach (var t in _activations.Values) Backend.Release(t);
        _activations.Clear();
    }
}
