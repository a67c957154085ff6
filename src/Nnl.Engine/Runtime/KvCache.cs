using Nnl.Engine.Models;

namespace Nnl.Engine.Runtime;

/// <summary>
/// Keys and values of every layer for a fixed number of sequence slots:
/// per layer K and V, each [slots, capacity, KvWidth] F32 on the backend.
/// Which positions are filled is the caller's bookkeeping (the batch's positions).
/// </summary>
public sealed class KvCache : IDisposable
{
    private readonly IComputeBackend _backend;
    private readonly BackendTensor[] _keys;
    private readonly BackendTensor[] _values;

    public KvCache(IComputeBackend backend, KvCacheShape shape, int slots, int capacity)
    {
        if (slots <= 0) throw new NnlArgumentException(nameof(slots), "A KV cache needs at least one slot.");
        if (capacity <= 0) throw new NnlArgumentException(nameof(capacity), "A KV cache needs room for at least one token.");
        _backend = backend;
        Shape = shape;
        Slots = slots;
        Capacity = capacity;
        _keys = new BackendTensor[shape.LayerCount];
        _values = new BackendTensor[shape.LayerCount];
        try
        {
            for (var l = 0; l < shape.LayerCount; l++)
            {
                _keys[l] = backend.Allocate($"kv.{l}.k", shape.ElementType, slots, capacity, shape.KvWidth);
                _values[l] = backend.Allocate($"kv.{l}.v", shape.ElementType, slots, capacity, shape.KvWidth);
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public KvCacheShape Shape { get; }
    public int Slots { get; }

    /// <summary>Tokens per slot (prompt + generated).</summary>
    public int Capacity { get; }

    public long ByteCount => Shape.BytesPerToken * Slots * Capacity;

    public BackendTensor Keys(int layer) => _keys[layer];
    public BackendTensor Values(int layer) => _values[layer];

    public void Dispose()
    {
        for (var l = 0; l < _keys.Length; l++)
        {
            if (_keys[l] is not null) _backend.Release(_keys[l]);
            if (_values[l] is not null) _backend.Release(_values[l]);
            _keys[l] = null!;
            _values[l] = null!;
        }
    }
}
