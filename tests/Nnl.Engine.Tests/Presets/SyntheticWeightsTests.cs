using Nnl.Engine.Models;
using Nnl.Engine.Models.Synthetic;

namespace Nnl.Engine.Tests.Presets;

public sealed unsafe class SyntheticWeightsTests
{
    private static byte[] Bytes(SyntheticModel m, TensorInfo t)
    {
        var bytes = new byte[t.ByteCount];
        fixed (byte* p = bytes) m.Weights.CopyTo(t, p);
        return bytes;
    }

    [Fact]
    public void Same_seed_same_bytes_other_seed_other_bytes()
    {
        var a = SyntheticModel.FromPreset("gpt2", layers: 1, seed: 7);
        var b = SyntheticModel.FromPreset("gpt2", layers: 1, seed: 7);
        var c = SyntheticModel.FromPreset("gpt2", layers: 1, seed: 8);
        var t = a.Tensors.First(x => x.Name.EndsWith("c_attn.weight", StringComparison.Ordinal));
        Assert.Equal(Bytes(a, t), Bytes(b, t));
        Assert.NotEqual(Bytes(a, t), Bytes(c, t));
        // Different tensors of one model differ too (the key includes the name).
        var proj = a.Tensors.First(x => x.Name.EndsWith("attn.c_proj.weight", StringComparison.Ordinal));
        Assert.NotEqual(Bytes(a, t).AsSpan(0, 4096).ToArray(), Bytes(a, proj).AsSpan(0, 4096).ToArray());
    }

    [Fact]
    public void Any_range_generated_alone_equals_the_whole_tensor_generated_in_parallel()
    {
        // The token embedding is larger than one parallel piece, so CopyTo splits it over threads.
        var m = SyntheticModel.FromPreset("gpt2", layers: 1, dtype: TensorDType.BF16, seed: 3);
        var t = m.Tensors[0];
        var whole = Bytes(m, t);
        var random = new Random(11);
        for (var trial = 0; trial < 20; trial++)
        {
            var first = random.NextInt64(t.ElementCount - 100);
            var count = random.Next(1, 100);
            var part = new byte[count * 2];
            fixed (byte* p = part) m.Weights.Fill(t, first, count, p);
            Assert.Equal(whole.AsSpan((int)first * 2, count * 2).ToArray(), part);
        }
    }

    [Theory]
    [InlineData(TensorDType.F16)]
    [InlineData(TensorDType.BF16)]
    [InlineData(TensorDType.F32)]
    public void Values_are_scaled_like_an_initialised_model(TensorDType dtype)
    {
        var m = SyntheticModel.FromPreset("llama-2-7b", layers: 1, dtype: dtype, seed: 5);
        (double Mean, double Std, double MaxAbs) Stats(TensorInfo t, int n)
        {
            double sum = 0, sq = 0, max = 0;
            for (var i = 0; i < n; i++)
            {
                var v = m.Weights.Value(t, i * (t.ElementCount / n));
                Assert.True(float.IsFinite(v));
                sum += v; sq += v * v; max = Math.Max(max, Math.Abs(v));
            }
            var mean = sum / n;
            return (mean, Math.Sqrt(sq / n - mean * mean), max);
        }

        var q = Stats(m.Tensors.First(t => t.Name.EndsWith("q_proj.weight", StringComparison.Ordinal)), 20000);
        Assert.InRange(q.Mean, -0.001, 0.001);
        Assert.InRange(q.Std, 0.019, 0.021);
        Assert.InRange(q.MaxAbs, 0.06, 0.1); // a normal's tails, cut at about 4.3 sigma
        var norm = Stats(m.Tensors.First(t => t.Name.EndsWith("input_layernorm.weight", StringComparison.Ordinal)), 4096);
        Assert.InRange(norm.Mean, 0.998, 1.002);
        Assert.InRange(norm.Std, 0.018, 0.022);
    }

    [Fact]
    public void Encodings_round_to_the_nearest_value_of_the_dtype()
    {
        var rng = new Random(2);
        for (var i = 0; i < 1000; i++)
        {
            var v = (float)((rng.NextDouble() - 0.5) * 4);
            Assert.Equal((float)(Half)v, NormalTable.Decode(TensorDType.F16, NormalTable.Encode(TensorDType.F16, v)));
            var bf = NormalTable.Decode(TensorDType.BF16, NormalTable.Encode(TensorDType.BF16, v));
            Assert.True(Math.Abs(bf - v) <= Math.Abs(v) / 256, $"{v} → {bf}");
        }
        // Acklam's approximation against known quantiles (its relative error is below 1.2e-9).
        Assert.InRange(NormalTable.InverseNormal(0.975), 1.959963984540054 * (1 - 1.2e-9), 1.959963984540054 * (1 + 1.2e-9));
        Assert.InRange(NormalTable.InverseNormal(0.01), -2.326347874040841 * (1 + 1.2e-9), -2.326347874040841 * (1 - 1.2e-9));
        Assert.Equal(0, NormalTable.InverseNormal(0.5), 12);
    }
}
