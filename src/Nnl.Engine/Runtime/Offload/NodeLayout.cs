using Nnl.Engine.Models;

namespace Nnl.Engine.Runtime.Offload;

/// <summary>
/// Where each of a node's weights sits in the node's one contiguous buffer (the same layout in
/// pinned host memory and on the GPU, so a node moves with one DMA). Tensors start at
/// <see cref="Alignment"/>-byte offsets so kernels can use 16-byte vector loads.
/// </summary>
public sealed class NodeLayout
{
    public const long Alignment = 256;

    public NodeLayout(ComputationNode node, IReadOnlyList<TensorInfo> tensors)
    {
        Node = node;
        var offsets = new Dictionary<string, long>(StringComparer.Ordinal);
        long at = 0;
        foreach (var t in tensors)
        {
            if (offsets.ContainsKey(t.Name)) continue;
            offsets[t.Name] = at;
            at = AlignUp(at + t.ByteCount);
        }
        Tensors = tensors.DistinctBy(t => t.Name).ToArray();
        Offsets = offsets;
        Bytes = at;
        PayloadBytes = Tensors.Sum(t => t.ByteCount);
    }

    public ComputationNode Node { get; }

    /// <summary>The tensors in this buffer (each once), in layout order.</summary>
    public IReadOnlyList<TensorInfo> Tensors { get; }

    public IReadOnlyDictionary<string, long> Offsets { get; }

    /// <summary>Size of the buffer, padding included.</summary>
    public long Bytes { get; }

    /// <summary>Bytes of weights proper (what the bound counts).</summary>
    public long PayloadBytes { get; }

    public static long AlignUp(long value) => (value + Alignment - 1) / Alignment * Alignment;
}
