namespace Nnl.Engine.Models.Synthetic;

/// <summary>
/// 65,536 quantiles of normal(mean, std), already encoded in the target dtype: a 16-bit random
/// number picks one. Drawing a value is then one table read, so generating 26 GB of fp16 weights
/// is bound by memory and disk, not by Box-Muller; the values follow the normal law to ±4.3σ.
/// </summary>
internal sealed class NormalTable
{
    public const int Size = 1 << 16;

    private NormalTable(uint[] bits) { Bits = bits; }

    /// <summary>Entry k holds the bits of mean + std·Φ⁻¹((k + ½)/65536) in the dtype (low 16 bits for F16/BF16).</summary>
    public uint[] Bits { get; }

    private static readonly Dictionary<(TensorDType, double, double), NormalTable> Cache = new();

    public static NormalTable For(TensorDType dtype, double mean, double std)
    {
        lock (Cache)
        {
            if (Cache.TryGetValue((dtype, mean, std), out var t)) return t;
            var bits = new uint[Size];
            for (var k = 0; k < Size; k++)
                bits[k] = Encode(dtype, (float)(mean + std * InverseNormal((k + 0.5) / Size)));
            t = new NormalTable(bits);
            Cache[(dtype, mean, std)] = t;
            return t;
        }
    }

    public static uint Encode(TensorDType dtype, float value) => dtype switch
    {
        TensorDType.F32 => BitConverter.SingleToUInt32Bits(value),
        TensorDType.F16 => BitConverter.HalfToUInt16Bits((Half)value),
        TensorDType.BF16 => ToBFloat16(value),
        _ => throw new ArgumentOutOfRangeException(nameof(dtype)),
    };

    public static float Decode(TensorDType dtype, uint bits) => dtype switch
    {
        TensorDType.F32 => BitConverter.UInt32BitsToSingle(bits),
        TensorDType.F16 => (float)BitConverter.UInt16BitsToHalf((ushort)bits),
        TensorDType.BF16 => BitConverter.UInt32BitsToSingle(bits << 16),
        _ => throw new ArgumentOutOfRangeException(nameof(dtype)),
    };

    /// <summary>Round to nearest even, as torch converts float32 to bfloat16 (finite inputs only here).</summary>
    private static uint ToBFloat16(float value)
    {
        var u = BitConverter.SingleToUInt32Bits(value);
        return (u + 0x7FFF + ((u >> 16) & 1)) >> 16;
    }

    /// <summary>Φ⁻¹(p) by Acklam's rational approximation (relative error below 1.2e-9), far finer than fp16.</summary>
    internal static double InverseNormal(double p)
    {
        if (p <= 0 || p >= 1) throw new ArgumentOutOfRangeException(nameof(p));
        double[] a = { -3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00 };
        double[] b = { -5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01, -1.328068155288572e+01 };
        double[] c = { -7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00 };
        double[] d = { 7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00 };
        const double low = 0.02425, high = 1 - low;
        if (p < low)
        {
            var q = Math.Sqrt(-2 * Math.Log(p));
            return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
        }
        if (p > high)
        {
            var q = Math.Sqrt(-2 * Math.Log(1 - p));
            return -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
        }
        var r = p - 0.5;
        var s = r * r;
        return (((((a[0] * s + a[1]) * s + a[2]) * s + a[3]) * s + a[4]) * s + a[5]) * r / (((((b[0] * s + b[1]) * s + b[2]) * s + b[3]) * s + b[4]) * s + 1);
    }
}
