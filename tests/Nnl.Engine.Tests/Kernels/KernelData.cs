namespace Nnl.Engine.Tests.Kernels;

/// <summary>Storage types of weights and KV caches, as the kernels' name suffixes say them.</summary>
public enum KernelDType { F16, BF16, F32 }

/// <summary>
/// Random test data and the host side of the storage types: values are drawn as doubles, rounded to
/// the storage type (what the GPU will read) and kept as doubles for the reference.
/// </summary>
internal static class KernelData
{
    public static string Suffix(KernelDType t) => t switch { KernelDType.F16 => "f16", KernelDType.BF16 => "bf16", _ => "f32" };

    public static int ElementBytes(KernelDType t) => t == KernelDType.F32 ? 4 : 2;

    /// <summary>Uniform values in [-scale, scale), rounded to <paramref name="type"/>.</summary>
    public static double[] Uniform(Random rng, int n, double scale, KernelDType type = KernelDType.F32)
    {
        var x = new double[n];
        for (int i = 0; i < n; i++) x[i] = Round((rng.NextDouble() * 2 - 1) * scale, type);
        return x;
    }

    /// <summary>The value a double becomes when stored as <paramref name="type"/> (fp32 included).</summary>
    public static double Round(double v, KernelDType type) => type switch
    {
        KernelDType.F16 => (double)(float)(Half)(float)v,
        KernelDType.BF16 => BF16ToFloat(FloatToBF16((float)v)),
        _ => (float)v,
    };

    /// <summary>fp32 → bf16 bits, round to nearest even (as cvt.rn.bf16.f32 and torch do).</summary>
    public static ushort FloatToBF16(float f)
    {
        uint u = BitConverter.SingleToUInt32Bits(f);
        if (float.IsNaN(f)) return (ushort)((u >> 16) | 0x40);
        u += 0x7fffu + ((u >> 16) & 1u);
        return (ushort)(u >> 16);
    }

    public static float BF16ToFloat(ushort b) => BitConverter.UInt32BitsToSingle((uint)b << 16);

    /// <summary>The bytes of <paramref name="x"/> stored as <paramref name="type"/> (values must already be representable).</summary>
    public static byte[] ToBytes(double[] x, KernelDType type)
    {
        var bytes = new byte[x.Length * ElementBytes(type)];
        for (int i = 0; i < x.Length; i++)
        {
            switch (type)
            {
                case KernelDType.F16: BitConverter.TryWriteBytes(bytes.AsSpan(i * 2), BitConverter.HalfToUInt16Bits((Half)(float)x[i])); break;
                case KernelDType.BF16: BitConverter.TryWriteBytes(bytes.AsSpan(i * 2), FloatToBF16((float)x[i])); break;
                default: BitConverter.TryWriteBytes(bytes.AsSpan(i * 4), (float)x[i]); break;
            }
        }
        return bytes;
    }

    public static float[] ToFloats(double[] x) => x.Select(v => (float)v).ToArray();

    public static double[] ToDoubles(float[] x) => x.Select(v => (double)v).ToArray();

    /// <summary>
    /// Normalised mean squared error Σ(a−r)² / max(Σr², <paramref name="normFloor"/>) (test-backend-ops'
    /// measure); NaN anywhere gives +∞. The floor keeps a tensor whose reference is nearly all zero
    /// (a one-element gelu of a very negative input) from being judged on rounding noise alone.
    /// </summary>
    public static double Nmse(float[] actual, double[] reference, double normFloor = 0)
    {
        if (actual.Length != reference.Length) throw new ArgumentException($"length {actual.Length} vs reference {reference.Length}");
        double err = 0, norm = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            if (!float.IsFinite(actual[i])) return double.PositiveInfinity;
            double d = actual[i] - reference[i];
            err += d * d;
            norm += reference[i] * reference[i];
        }
        norm = Math.Max(norm, normFloor);
        return norm == 0 ? err : err / norm;
    }

    /// <summary>
    /// The norm floor for an elementwise activation of <paramref name="input"/>: 1e-3 of the input's
    /// energy Σx². An fp32 evaluation errs by up to about eps·|x| where the function's value is tiny
    /// (gelu_new: 1 + tanh cancels for very negative x), so outputs near zero are judged relative to
    /// the input's scale. A typical activation keeps Σr² far above the floor (gelu of ±6 uniform:
    /// about half of Σx²), so the floor does not loosen the check there.
    /// </summary>
    public static double ActivationNormFloor(double[] input) => 1e-3 * input.Sum(v => v * v);

    /// <summary>Asserts NMSE ≤ <paramref name="maxNmse"/>, naming the case and the worst element.</summary>
    public static void AssertClose(float[] actual, double[] reference, double maxNmse, string what)
    {
        if (Mismatch(actual, reference, maxNmse, what) is string message) Assert.Fail(message);
    }

    /// <summary>Null when NMSE ≤ <paramref name="maxNmse"/>; otherwise what differs, with the worst element.</summary>
    public static string? Mismatch(float[] actual, double[] reference, double maxNmse, string what, double normFloor = 0)
    {
        if (actual.Length != reference.Length) return $"{what}: {actual.Length} values, reference has {reference.Length}";
        double nmse = Nmse(actual, reference, normFloor);
        if (nmse <= maxNmse) return null;
        int worst = 0;
        double worstDiff = -1;
        for (int i = 0; i < actual.Length; i++)
        {
            double d = float.IsFinite(actual[i]) ? Math.Abs(actual[i] - reference[i]) : double.PositiveInfinity;
            if (d > worstDiff) { worstDiff = d; worst = i; }
        }
        return $"{what}: NMSE {nmse:E3} > {maxNmse:E1}; worst element [{worst}] = {actual[worst]} vs reference {reference[worst]}";
    }
}
