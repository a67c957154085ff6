using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using Nnl.Engine.Models;

namespace Nnl.Engine.Tests.Models;

/// <summary>A tensor as tests write it: values already rounded to <see cref="DType"/>, so references compute with what the file holds.</summary>
internal sealed record TestTensor(string Name, long[] Shape, float[] Values, TensorDType DType = TensorDType.F32);

/// <summary>Writes safetensors files (well-formed, or from a raw header for malformed cases).</summary>
internal static class SafetensorsWriter
{
    public static void Write(string path, IReadOnlyList<TestTensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
        => File.WriteAllBytes(path, Build(tensors, metadata));

    public static byte[] Build(IReadOnlyList<TestTensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var header = new Dictionary<string, object>();
        if (metadata is not null) header["__metadata__"] = metadata;
        var data = new MemoryStream();
        foreach (var t in tensors)
        {
            var bytes = Encode(t.Values, t.DType);
            var begin = data.Length;
            data.Write(bytes);
            header[t.Name] = new Dictionary<string, object>
            {
                ["dtype"] = t.DType.SafetensorsName(),
                ["shape"] = t.Shape,
                ["data_offsets"] = new[] { begin, data.Length },
            };
        }
        return Raw(JsonSerializer.Serialize(header), data.ToArray());
    }

    /// <summary>8-byte length + header (padded with spaces to a multiple of 8, as the format recommends) + data.</summary>
    public static byte[] Raw(string headerJson, byte[] data, ulong? declaredHeaderLength = null)
    {
        var header = Encoding.UTF8.GetBytes(headerJson);
        var padded = (header.Length + 7) / 8 * 8;
        var result = new byte[8 + padded + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(result, declaredHeaderLength ?? (ulong)padded);
        header.CopyTo(result, 8);
        for (var i = 8 + header.Length; i < 8 + padded; i++) result[i] = (byte)' ';
        data.CopyTo(result, 8 + padded);
        return result;
    }

    public static byte[] Encode(float[] values, TensorDType dtype)
    {
        var bytes = new byte[values.Length * dtype.ElementBytes()];
        for (var i = 0; i < values.Length; i++)
        {
            switch (dtype)
            {
                case TensorDType.F32: BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), values[i]); break;
                case TensorDType.F16: BinaryPrimitives.WriteHalfLittleEndian(bytes.AsSpan(i * 2), (Half)values[i]); break;
                case TensorDType.BF16: BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(i * 2), ToBFloat16Bits(values[i])); break;
            }
        }
        return bytes;
    }

    /// <summary>The value as stored in <paramref name="dtype"/> (round to nearest even).</summary>
    public static float Round(float v, TensorDType dtype) => dtype switch
    {
        TensorDType.F32 => v,
        TensorDType.F16 => (float)(Half)v,
        TensorDType.BF16 => BitConverter.Int32BitsToSingle(ToBFloat16Bits(v) << 16),
        _ => throw new ArgumentOutOfRangeException(nameof(dtype)),
    };

    private static ushort ToBFloat16Bits(float v)
    {
        var bits = (uint)BitConverter.SingleToInt32Bits(v);
        var rounding = ((bits >> 16) & 1) + 0x7FFF;
        return (ushort)((bits + rounding) >> 16);
    }
}
