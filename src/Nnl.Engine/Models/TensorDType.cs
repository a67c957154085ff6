namespace Nnl.Engine.Models;

/// <summary>Element types of weight tensors Nnl computes with. Activations are always <see cref="F32"/>.</summary>
public enum TensorDType
{
    F32,
    F16,
    BF16,
}

public static class TensorDTypeExtensions
{
    /// <summary>Bytes per element.</summary>
    public static int ElementBytes(this TensorDType dtype) => dtype switch
    {
        TensorDType.F32 => 4,
        TensorDType.F16 => 2,
        TensorDType.BF16 => 2,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, null),
    };

    /// <summary>The name safetensors headers use ("F32", "F16", "BF16").</summary>
    public static string SafetensorsName(this TensorDType dtype) => dtype switch
    {
        TensorDType.F32 => "F32",
        TensorDType.F16 => "F16",
        TensorDType.BF16 => "BF16",
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, null),
    };
}
