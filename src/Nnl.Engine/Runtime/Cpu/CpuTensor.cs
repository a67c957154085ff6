using Nnl.Engine.Models;

namespace Nnl.Engine.Runtime.Cpu;

/// <summary>A tensor of the CPU backend: always F32 in a managed array, row-major.</summary>
public sealed class CpuTensor : BackendTensor
{
    internal CpuTensor(string name, long[] shape) : base(name, TensorDType.F32, shape)
    {
        var n = ElementCount;
        if (n > Array.MaxLength) throw new NnlArgumentException(nameof(shape), $"{name}: {n} elements exceed what one CPU array holds.");
        Data = new float[n];
    }

    /// <summary>The values; the source of <see cref="CreateWeight"/>'s dtype is remembered in <see cref="SourceDType"/>.</summary>
    public float[] Data { get; private set; }

    /// <summary>Element type of the file this weight was widened from (F32 for activations).</summary>
    public TensorDType SourceDType { get; internal init; } = TensorDType.F32;

    internal bool Released => Data.Length == 0 && ElementCount != 0;

    internal void Release() => Data = Array.Empty<float>();

    public Span<float> Row(long row) => Data.AsSpan((int)(row * Columns), (int)Columns);
}
