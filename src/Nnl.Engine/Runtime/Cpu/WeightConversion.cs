using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using Nnl.Engine.Models;

namespace Nnl.Engine.Runtime.Cpu;

/// <summary>Widens F16 and BF16 weights to F32 (once, when they are bound), in chunks so tensors over 2 GiB work.</summary>
internal static class WeightConversion
{
    private const int ChunkElements = 1 << 24;

    public static void ToSingle(TensorDType dtype, WeightBytes source, Span<float> destination)
    {
        var elementBytes = dtype.ElementBytes();
        if (source.Length != (long)destination.Length * elementBytes)
            throw new ArgumentException($"{source.Length} bytes of {dtype} do not fill {destination.Length} elements.");
        for (long start = 0; start < destination.Length; start += ChunkElements)
        {
            var count = (int)Math.Min(ChunkElements, destination.Length - start);
            var bytes = source.Slice(start * elementBytes, count * elementBytes);
            var dst = destination.Slice((int)start, count);
            switch (dtype)
            {
                case TensorDType.F32:
                    MemoryMarshal.Cast<byte, float>(bytes).CopyTo(dst);
                    break;
                case TensorDType.F16:
                    TensorPrimitives.ConvertToSingle(MemoryMarshal.Cast<byte, Half>(bytes), dst);
                    break;
                case TensorDType.BF16:
                    var raw = MemoryMarshal.Cast<byte, ushort>(bytes);
                    for (var i = 0; i < raw.Length; i++) dst[i] = BitConverter.Int32BitsToSingle(raw[i] << 16);
                    break;
                default:
                    throw new ArgumentOutOfRangeException(nameof(dtype), dtype, null);
            }
        }
    }
}
