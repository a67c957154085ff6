using Nnl.Engine.Models;

namespace Nnl.Engine.Runtime;

/// <summary>
/// A tensor that lives where a backend computes: managed arrays for the CPU backend, device memory
/// for the CUDA backend. Activations are F32 and two-dimensional, [rows, columns], one row per token
/// of the batch. Weights keep their file's element type (the CPU backend widens them to F32 when
/// they are bound). Backends subclass this to carry their storage; callers only see the shape.
/// </summary>
public abstract class BackendTensor
{
    protected BackendTensor(string name, TensorDType dtype, long[] shape)
    {
        if (shape.Length == 0) throw new ArgumentException("A backend tensor needs at least one dimension.", nameof(shape));
        Name = name;
        DType = dtype;
        Shape = shape;
        RowStride = shape[^1];
    }

    /// <summary>
    /// The tensor this one is a column view of (<see cref="IComputeBackend.ColumnView"/>), or null for a
    /// tensor that owns (or wraps) its memory.
    /// </summary>
    public BackendTensor? ViewOf { get; protected init; }

    /// <summary>Elements from the start of one row to the next: <see cref="Columns"/>, or the source's width for a column view.</summary>
    public long RowStride { get; protected init; }

    /// <summary>What the tensor holds, e.g. "blk.3.attn_q" or a weight's file name.</summary>
    public string Name { get; }
    public TensorDType DType { get; }
    public long[] Shape { get; }

    /// <summary>First dimension (tokens for activations, out-features for Linear weights).</summary>
    public long Rows => Shape[0];

    /// <summary>Last dimension.</summary>
    public long Columns => Shape[^1];

    public long ElementCount
    {
        get
        {
            long n = 1;
            foreach (var d in Shape) n *= d;
            return n;
        }
    }

    public long ByteCount => ElementCount * DType.ElementBytes();

    public override string ToString() => $"{Name} {DType} [{string.Join(", ", Shape)}]";
}
