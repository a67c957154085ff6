namespace Nnl.Engine.Tests.Kernels;

/// <summary>
/// The float64 references check each other and known identities on random inputs, so a GPU
/// failure points at the kernel, not at the reference.
/// </summary>
public class KernelReferenceTests
{
    [Fact]
    public void LayerNormOutputHasZeroMeanAndUnitVarianceBeforeTheAffine()
    {
        var rng = new Random(1);
        int rows = 3, dim = 37;
        var x = KernelData.Uniform(rng, rows * dim, 4);
        var y = KernelReference.LayerNorm(x, rows, dim, Enumerable.Repeat(1.0, dim).ToArray(), null, 0);
        for (int r = 0; r < rows; r++)
        {
            var row = y.Skip(r * dim).Take(dim).ToArray();
            Assert.Equal(0, row.Average(), 12);
            Assert.Equal(1, row.Select(v => v * v).Average(), 10);
        }
        var w = KernelData.Uniform(rng, dim, 1);
        var b = KernelData.Uniform(rng, dim, 1);
        var affine = KernelReference.LayerNorm(x, rows, dim, w, b, 0);
        for (int i = 0; i < rows * dim; i++) Assert.Equal(y[i] * w[i % dim] + b[i % dim], affine[i], 12);
    }

    [Fact]
    public void RmsNormOutputHasUnitMeanSquare()
    {
        var rng = new Random(2);
        var x = KernelData.Uniform(rng, 2 * 50, 3);
        var y = KernelReference.RmsNorm(x, 2, 50, Enumerable.Repeat(1.0, 50).ToArray(), 0);
        Assert.Equal(1, y.Take(50).Select(v => v * v).Average(), 10);
        Assert.Equal(1, y.Skip(50).Select(v => v * v).Average(), 10);
    }

    [Fact]
    public void RopeRotatesPairsWithoutChangingTheirLengthAndKeepsRelativePositions()
    {
        var rng = new Random(3);
        int heads = 2, hd = 16;
        var freq = KernelReference.InvFreq(hd, 10000);
        var q = KernelData.Uniform(rng, heads * hd, 1);
        var k = KernelData.Uniform(rng, heads * hd, 1);
        double Dot(double[] a, double[] b) => a.Zip(b, (u, v) => u * v).Take(hd).Sum();
        // q at position p and k at p - 3 give the same score for any p: rotary encodes distance.
        double s1 = Dot(KernelReference.Rope(q, 1, heads * hd, [10], freq, heads, hd, hd), KernelReference.Rope(k, 1, heads * hd, [7], freq, heads, hd, hd));
        double s2 = Dot(KernelReference.Rope(q, 1, heads * hd, [20], freq, heads, hd, hd), KernelReference.Rope(k, 1, heads * hd, [17], freq, heads, hd, hd));
        Assert.Equal(s1, s2, 5);
        var r = KernelReference.Rope(q, 1, heads * hd, [123], freq, heads, hd, hd);
        for (int i = 0; i < hd / 2; i++)
            Assert.Equal(q[i] * q[i] + q[i + hd / 2] * q[i + hd / 2], r[i] * r[i] + r[i + hd / 2] * r[i + hd / 2], 12);
        Assert.Equal(q, KernelReference.Rope(q, 1, heads * hd, [0], freq, heads, hd, hd));
    }

    [Fact]
    public void AttentionOverOnePositionReturnsItsValueAndGroupsShareKvHeads()
    {
        var rng = new Random(4);
        int hd = 8, heads = 4, kv = 2;
        var q = KernelData.Uniform(rng, heads * hd, 1);
        var kc = KernelData.Uniform(rng, 3 * kv * hd, 1);
        var vc = KernelData.Uniform(rng, 3 * kv * hd, 1);
        var o = KernelReference.Attention(q, 1, heads * hd, kc, vc, [0], heads, kv, hd, 0.5);
        for (int h = 0; h < heads; h++)
            for (int d = 0; d < hd; d++) Assert.Equal(vc[(h / 2) * hd + d], o[h * hd + d], 12);
        // Over all three positions the output is a convex combination: within the values' range.
        var o3 = KernelReference.Attention(q, 1, heads * hd, kc, vc, [2], heads, kv, hd, 0.5);
        for (int d = 0; d < hd; d++)
        {
            var vs = Enumerable.Range(0, 3).Select(j => vc[j * kv * hd + d]).ToArray();
            Assert.InRange(o3[d], vs.Min() - 1e-12, vs.Max() + 1e-12);
        }
    }

    [Fact]
    public void SlidingWindowOfOneReturnsTheOwnValueAndAWideWindowChangesNothing()
    {
        var rng = new Random(5);
        int hd = 8, heads = 2, kv = 1, n = 6;
        var q = KernelData.Uniform(rng, heads * hd, 1);
        var kc = KernelData.Uniform(rng, n * kv * hd, 1);
        var vc = KernelData.Uniform(rng, n * kv * hd, 1);
        var own = KernelReference.Attention(q, 1, heads * hd, kc, vc, [4], heads, kv, hd, 0.5, window: 1);
        for (int h = 0; h < heads; h++)
            for (int d = 0; d < hd; d++) Assert.Equal(vc[4 * hd + d], own[h * hd + d], 12);
        var whole = KernelReference.Attention(q, 1, heads * hd, kc, vc, [4], heads, kv, hd, 0.5);
        Assert.Equal(whole, KernelReference.Attention(q, 1, heads * hd, kc, vc, [4], heads, kv, hd, 0.5, window: 5));
        // Window 2 at position 4 sees positions 3 and 4 only: changing position 2 changes nothing.
        var two = KernelReference.Attention(q, 1, heads * hd, kc, vc, [4], heads, kv, hd, 0.5, window: 2);
        kc[2 * hd] += 3; vc[2 * hd] += 3;
        Assert.Equal(two, KernelReference.Attention(q, 1, heads * hd, kc, vc, [4], heads, kv, hd, 0.5, window: 2));
        Assert.NotEqual(whole, KernelReference.Attention(q, 1, heads * hd, kc, vc, [4], heads, kv, hd, 0.5));
    }

    [Fact]
    public void LinearMatchesTransposedConv1DAndSoftmaxSumsToOne()
    {
        var rng = new Random(5);
        int k = 9, n = 5, t = 2;
        var w = KernelData.Uniform(rng, n * k, 1);
        var x = KernelData.Uniform(rng, t * k, 1);
        var conv = KernelReference.Transpose(w, n, k);           // [k, n], GPT-2's Conv1D layout
        var y = KernelReference.Linear(x, t, k, w, n, null, null);
        for (int j = 0; j < n; j++)
            Assert.Equal(Enumerable.Range(0, k).Sum(i => x[i] * conv[i * n + j]), y[j], 12);
        var p = KernelReference.Softmax(x, t, k);
        Assert.Equal(1, p.Take(k).Sum(), 12);
        Assert.Equal(KernelReference.Argmax(x, t, k)[0], Array.IndexOf(p, p.Take(k).Max()));
    }

    [Fact]
    public void StorageRoundingMatchesTheFormats()
    {
        Assert.Equal(1.0009765625, KernelData.Round(1.0009, KernelDType.F16));      // 1 + 2^-10
        Assert.Equal(1.0078125, KernelData.Round(1.006, KernelDType.BF16));         // 1 + 2^-7
        Assert.Equal((ushort)0x3f80, KernelData.FloatToBF16(1.0f));
        Assert.Equal((ushort)0x3f80, KernelData.FloatToBF16(BitConverter.UInt32BitsToSingle(0x3f808000))); // tie to even
        Assert.Equal((ushort)0x3f82, KernelData.FloatToBF16(BitConverter.UInt32BitsToSingle(0x3f818000)));
        Assert.Equal(0.5 * 1.5 * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (1.5 + 0.044715 * 3.375))), KernelReference.GeluNew(1.5), 15);
    }
}

public class CachingDeviceAllocatorRoundingTests
{
    [Theory]
    [InlineData(1, 256)]
    [InlineData(256, 256)]
    [InlineData(257, 512)]
    [InlineData(1 << 20, 1 << 20)]
    [InlineData((1 << 20) + 1, (1 << 20) + (1 << 17))]
    [InlineData(3_000_000_000L, 3_221_225_472L)]   // 2^31 + 4 * 2^28
    public void SizesRoundUpToGranulesWithBoundedWaste(long bytes, long expected)
    {
        long rounded = Nnl.Engine.Runtime.Cuda.CachingDeviceAllocator.RoundUp(bytes);
        Assert.Equal(expected, rounded);
        Assert.True(rounded >= bytes && rounded - bytes <= Math.Max(255, bytes / 8));
    }
}
