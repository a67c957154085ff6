using Nnl.Engine.Models;
using Nnl.Engine.Runtime;
using Nnl.Engine.Runtime.Cpu;
using Nnl.Engine.Tests.Models;

namespace Nnl.Engine.Tests.Runtime;

/// <summary>Each CPU backend operation against a naive float64 loop, on random data and awkward shapes (one row, odd widths).</summary>
public sealed unsafe class CpuBackendTests : IDisposable
{
    private readonly CpuBackend _be = new();
    private readonly Random _rng = new(777);

    public void Dispose() => _be.Dispose();

    private float[] Values(long n, float scale = 1) => Enumerable.Range(0, (int)n).Select(_ => (float)(_rng.NextDouble() * 2 - 1) * scale).ToArray();

    private BackendTensor Tensor(string name, float[] values, params long[] shape)
    {
        var t = _be.Allocate(name, TensorDType.F32, shape);
        _be.Upload(t, values);
        return t;
    }

    private float[] Read(BackendTensor t)
    {
        var v = new float[t.ElementCount];
        _be.Download(t, v);
        return v;
    }

    private static void Close(double[] expected, float[] actual, double tolerance = 1e-5)
    {
        Assert.Equal(expected.Length, actual.Length);
        var scale = Math.Max(1e-6, expected.Max(Math.Abs));
        for (var i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance * scale, $"[{i}] expected {expected[i]}, got {actual[i]}");
    }

    [Theory]
    [InlineData(1, 1, 1, WeightLayout.Linear, false)]
    [InlineData(3, 7, 65, WeightLayout.Linear, true)]
    [InlineData(5, 130, 129, WeightLayout.Linear, true)]
    [InlineData(1, 64, 3, WeightLayout.Conv1D, false)]
    [InlineData(4, 33, 200, WeightLayout.Conv1D, true)]
    public void MatMulMatchesNaive(int rows, int inF, int outF, WeightLayout layout, bool withBias)
    {
        var x = Values(rows * inF);
        var w = Values(inF * outF);
        var b = Values(outF);
        var wt = layout == WeightLayout.Linear ? Tensor("w", w, outF, inF) : Tensor("w", w, inF, outF);
        var y = _be.Allocate("y", TensorDType.F32, rows, outF);
        _be.MatMul(Tensor("x", x, rows, inF), wt, layout, withBias ? Tensor("b", b, outF) : null, y);

        var expected = new double[rows * outF];
        for (var r = 0; r < rows; r++)
            for (var o = 0; o < outF; o++)
            {
                double acc = withBias ? b[o] : 0;
                for (var i = 0; i < inF; i++)
                    acc += (double)x[r * inF + i] * (layout == WeightLayout.Linear ? w[o * inF + i] : w[i * outF + o]);
                expected[r * outF + o] = acc;
            }
        Close(expected, Read(y));
    }

    [Fact]
    public void MatMulRefusesMismatchedShapes()
    {
        var y = _be.Allocate("y", TensorDType.F32, 2, 5);
        Assert.Throws<ArgumentException>(() => _be.MatMul(Tensor("x", Values(6), 2, 3), Tensor("w", Values(20), 5, 4), WeightLayout.Linear, null, y));
    }

    [Theory]
    [InlineData(4, 2, 8)]
    [InlineData(6, 1, 4)]
    [InlineData(2, 2, 6)]
    public void AttentionOverTheCacheMatchesNaiveCausalGroupedAttention(int heads, int kvHeads, int d)
    {
        // Two slots: slot 0 prefills 5 rows, slot 1 has 3 cached tokens and decodes one.
        const int capacity = 9;
        var shape = new AttentionShape(heads, kvHeads, d, 1f / MathF.Sqrt(d));
        var kCache = _be.Allocate("k", TensorDType.F32, 2, capacity, shape.KvWidth);
        var vCache = _be.Allocate("v", TensorDType.F32, 2, capacity, shape.KvWidth);
        var kHost = Values(2 * capacity * shape.KvWidth);
        var vHost = Values(2 * capacity * shape.KvWidth);
        _be.Upload(kCache, kHost);
        _be.Upload(vCache, vHost);

        var slots = new[] { 0, 0, 0, 0, 0, 1 };
        var positions = new[] { 0, 1, 2, 3, 4, 3 };
        var batch = _be.PrepareBatch(new TokenBatch(new int[6], positions, slots, new[] { 4, 5 }));
        var q = Values(6 * shape.QueryWidth);
        var k = Values(6 * shape.KvWidth);
        var v = Values(6 * shape.KvWidth);
        _be.StoreKv(Tensor("kn", k, 6, shape.KvWidth), Tensor("vn", v, 6, shape.KvWidth), kCache, vCache, batch);
        var y = _be.Allocate("y", TensorDType.F32, 6, shape.QueryWidth);
        _be.Attention(Tensor("q", q, 6, shape.QueryWidth), kCache, vCache, batch, shape, y);

        // The naive side writes the new rows into its own copy of the cache.
        for (var r = 0; r < 6; r++)
            for (var i = 0; i < shape.KvWidth; i++)
            {
                kHost[(slots[r] * capacity + positions[r]) * shape.KvWidth + i] = k[r * shape.KvWidth + i];
                vHost[(slots[r] * capacity + positions[r]) * shape.KvWidth + i] = v[r * shape.KvWidth + i];
            }
        var expected = new double[6 * shape.QueryWidth];
        for (var r = 0; r < 6; r++)
            for (var h = 0; h < heads; h++)
            {
                var g = h / (heads / kvHeads);
                var scores = new double[positions[r] + 1];
                for (var t = 0; t <= positions[r]; t++)
                {
                    double dot = 0;
                    for (var i = 0; i < d; i++) dot += (double)q[r * shape.QueryWidth + h * d + i] * kHost[(slots[r] * capacity + t) * shape.KvWidth + g * d + i];
                    scores[t] = dot * shape.Scale;
                }
                var max = scores.Max();
                var e = scores.Select(s => Math.Exp(s - max)).ToArray();
                for (var t = 0; t <= positions[r]; t++)
                    for (var i = 0; i < d; i++)
                        expected[r * shape.QueryWidth + h * d + i] += e[t] / e.Sum() * vHost[(slots[r] * capacity + t) * shape.KvWidth + g * d + i];
            }
        Close(expected, Read(y));
    }

    [Fact]
    public void RopeRotatesEachHeadsHalvesByPosition()
    {
        const int heads = 3, d = 8;
        var inv = new[] { 1f, 0.3f, 0.05f, 0.001f };
        var x = Values(2 * heads * d);
        var t = Tensor("x", x, 2, heads * d);
        var positions = new[] { 0, 17 };
        _be.Rope(t, _be.PrepareBatch(new TokenBatch(new int[2], positions, new int[2], Array.Empty<int>())), heads, new RotaryEmbedding(d, inv));
        var expected = new double[x.Length];
        for (var r = 0; r < 2; r++)
            for (var h = 0; h < heads; h++)
                for (var i = 0; i < d / 2; i++)
                {
                    var a = x[r * heads * d + h * d + i];
                    var b = x[r * heads * d + h * d + i + d / 2];
                    var angle = positions[r] * (double)inv[i];
                    expected[r * heads * d + h * d + i] = a * Math.Cos(angle) - b * Math.Sin(angle);
                    expected[r * heads * d + h * d + i + d / 2] = b * Math.Cos(angle) + a * Math.Sin(angle);
                }
        Close(expected, Read(t));
    }

    [Fact]
    public void NormsMatchNaive()
    {
        const int rows = 3, n = 37;
        var x = Values(rows * n, 3);
        var g = Values(n);
        var b = Values(n);
        var ln = _be.Allocate("ln", TensorDType.F32, rows, n);
        var rms = _be.Allocate("rms", TensorDType.F32, rows, n);
        _be.LayerNorm(Tensor("x", x, rows, n), Tensor("g", g, n), Tensor("b", b, n), 1e-5f, ln);
        _be.RmsNorm(Tensor("x2", x, rows, n), Tensor("g2", g, n), 1e-6f, rms);
        var expectedLn = new double[rows * n];
        var expectedRms = new double[rows * n];
        for (var r = 0; r < rows; r++)
        {
            var row = x.Skip(r * n).Take(n).Select(v => (double)v).ToArray();
            var mean = row.Average();
            var variance = row.Select(v => (v - mean) * (v - mean)).Average();
            var ms = row.Select(v => v * v).Average();
            for (var i = 0; i < n; i++)
            {
                expectedLn[r * n + i] = (row[i] - mean) / Math.Sqrt(variance + 1e-5) * g[i] + b[i];
                expectedRms[r * n + i] = row[i] / Math.Sqrt(ms + 1e-6) * g[i];
            }
        }
        Close(expectedLn, Read(ln));
        Close(expectedRms, Read(rms));
    }

    [Fact]
    public void ElementwiseOperationsMatchNaive()
    {
        const int rows = 2, n = 19;
        var a = Values(rows * n, 4);
        var c = Values(rows * n, 4);
        var ta = Tensor("a", a, rows, n);
        var tc = Tensor("c", c, rows, n);

        var gelu = _be.Allocate("gelu", TensorDType.F32, rows, n);
        _be.GeluNew(ta, gelu);
        Close(a.Select(v => 0.5 * v * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (v + 0.044715 * v * v * v)))).ToArray(), Read(gelu));

        var swiglu = _be.Allocate("swiglu", TensorDType.F32, rows, n);
        _be.SiluMul(ta, tc, swiglu);
        Close(a.Select((v, i) => v / (1 + Math.Exp(-v)) * c[i]).ToArray(), Read(swiglu));

        var sum = _be.Allocate("sum", TensorDType.F32, rows, n);
        _be.Add(ta, tc, sum);
        Close(a.Select((v, i) => (double)v + c[i]).ToArray(), Read(sum));

        var soft = _be.Allocate("soft", TensorDType.F32, rows, n);
        _be.Softmax(ta, soft);
        var expected = new double[rows * n];
        for (var r = 0; r < rows; r++)
        {
            var e = a.Skip(r * n).Take(n).Select(v => Math.Exp(v)).ToArray();
            for (var i = 0; i < n; i++) expected[r * n + i] = e[i] / e.Sum();
        }
        Close(expected, Read(soft));
    }

    [Fact]
    public void EmbeddingSliceAndGatherCopyTheRightRows()
    {
        var table = Values(10 * 6);
        var tt = Tensor("table", table, 10, 6);
        var batch = _be.PrepareBatch(new TokenBatch(new[] { 9, 0, 4 }, new[] { 2, 3, 4 }, new int[3], new[] { 2, 0 }));
        var tokens = _be.Allocate("tok", TensorDType.F32, 3, 6);
        var pos = _be.Allocate("pos", TensorDType.F32, 3, 6);
        _be.EmbeddingLookup(tt, batch, EmbeddingIndex.Token, tokens);
        _be.EmbeddingLookup(tt, batch, EmbeddingIndex.Position, pos);
        Assert.Equal(new[] { 9, 0, 4 }.SelectMany(i => table.Skip(i * 6).Take(6)), Read(tokens));
        Assert.Equal(new[] { 2, 3, 4 }.SelectMany(i => table.Skip(i * 6).Take(6)), Read(pos));

        var slice = _be.Allocate("slice", TensorDType.F32, 3, 2);
        _be.SliceColumns(tokens, 3, slice);
        Assert.Equal(new[] { 9, 0, 4 }.SelectMany(i => table.Skip(i * 6 + 3).Take(2)), Read(slice));

        var gathered = _be.Allocate("g", TensorDType.F32, 2, 6);
        _be.GatherRows(tokens, batch, gathered);
        Assert.Equal(new[] { 4, 9 }.SelectMany(i => table.Skip(i * 6).Take(6)), Read(gathered));
    }

    [Fact]
    public void OutOfRangeTokenIsAClearError()
    {
        var table = Tensor("table", Values(12), 4, 3);
        var batch = _be.PrepareBatch(new TokenBatch(new[] { 4 }, new[] { 0 }, new[] { 0 }, new[] { 0 }));
        var e = Assert.Throws<NnlArgumentException>(() => _be.EmbeddingLookup(table, batch, EmbeddingIndex.Token, _be.Allocate("o", TensorDType.F32, 1, 3)));
        Assert.Contains("token id 4", e.Message);
    }

    [Theory]
    [InlineData(TensorDType.F32)]
    [InlineData(TensorDType.F16)]
    [InlineData(TensorDType.BF16)]
    public void WeightsAreWidenedToTheExactStoredValues(TensorDType dtype)
    {
        var values = Values(257, 100).Select(v => SafetensorsWriter.Round(v, dtype)).ToArray();
        var bytes = SafetensorsWriter.Encode(values, dtype);
        BackendTensor t;
        fixed (byte* p = bytes)
            t = _be.CreateWeight(new TensorInfo("w", dtype, new long[] { 257 }, "mem", 0, bytes.Length), new WeightBytes(p, bytes.Length));
        Assert.Equal(values, Read(t));
        Assert.Equal(dtype, ((CpuTensor)t).SourceDType);
    }

    [Fact]
    public void ReleasedTensorsAreAccountedAndCannotBeUsed()
    {
        var before = _be.AllocatedBytes;
        var t = _be.Allocate("t", TensorDType.F32, 4, 8);
        Assert.Equal(before + 128, _be.AllocatedBytes);
        _be.Release(t);
        Assert.Equal(before, _be.AllocatedBytes);
        Assert.Throws<ObjectDisposedException>(() => _be.Download(t, new float[32]));
        Assert.Throws<InvalidOperationException>(() => _be.Release(t));
    }
}
