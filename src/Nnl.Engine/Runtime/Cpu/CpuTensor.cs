using Nnl.Engine.Models;

namespace Nnl.Engine.Runtime.Cpu;

/// <summary>
/// A tensor of the CPU backend: always F32 in a managed array, row-major. A column view
/// (<see cref="CpuBackend.ColumnView"/>) shares its source's array: its rows start at
/// <see cref="Offset"/> and are <see cref="BackendTensor.RowStride"/> apart.
/// </summary>
public sealed class CpuTensor : BackendTensor
{
    private float[] _data;
    private bool _released;

    internal CpuTensor(string name, long[] shape) : base(name, TensorDType.F32, shape)
    {
        var n = ElementCount;
        if (n > Array.MaxLength) throw new NnlArgumentException(nameof(shape), $"{name}: {n} elements exceed what one CPU array holds.");
        _data = new float[n];
    }

    /// <summary>A view of columns offset .. offset + columns of every row of <paramref name="source"/>.</summary>
    internal CpuTensor(CpuTensor source, long offset, long columns)
        : base($"{source.Name}[:, {offset}..{offset + columns}]", TensorDType.F32, new[] { source.Rows, columns })
    {
        _data = Array.Empty<float>();
        Source = source;
        ViewOf = source;
        Offset = checked((int)(source.Offset + offset));
        RowStride = source.RowStride;
    }

    /// <summary>
    /// The values (a view: its source's whole array, rows at <see cref="Offset"/> + r · RowStride);
    /// the source of <see cref="CreateWeight"/>'s dtype is remembered in <see cref="SourceDType"/>.
    /// </summary>
    public float[] Data => Source is null ? _data : Source.Data;

    /// <summary>Index in <see cref="Data"/> of element [0, 0] (non-zero only for a column view).</summary>
    public int Offset { get; }

    /// <summary>The tensor whose array a view shares, or null.</summary>
    internal CpuTensor? Source { get; }

    /// <summary>Element type of the file this weight was widened from (F32 for activations).</summary>
    public TensorDType SourceDType { get; internal init; } = TensorDType.F32;

    internal bool Released => _released || (Source?.Released ?? false);

    internal void Release()
    {
        _released = true;
        _data = Array.Empty<float>();
    }

    public Span<float> Row(long row) => Data.AsSpan((int)(Offset + row * RowStride), (int)Columns);
}
