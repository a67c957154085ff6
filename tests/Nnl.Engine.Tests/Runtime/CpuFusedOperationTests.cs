using Nnl.Engine.Models;
using Nnl.Engine.Runtime;
using Nnl.Engine.Runtime.Cpu;

namespace Nnl.Engine.Tests.Runtime;

/// <summary>
/// The fused operations of the CPU backend against the operations they replace, on fresh random
/// inputs: MatMul's epilogues give bit for bit MatMul then Add / GeluNew; NormMatMul gives bit for
/// bit LayerNorm / RmsNorm then MatMul; Rope, StoreKv and Attention through column views give bit
/// for bit what they give on SliceColumns copies, and write into the source; views own nothing and
/// every other operation refuses one.
/// </summary>
public sealed class CpuFusedOperationTests : IDisposable
{
    private readonly CpuBackend _be = new();
    private readonly Random _rng = new(4242);

    public void Dispose() => _be.Dispose();

    private float[] Values(long n) => Enumerable.Range(0, (int)n).Select(_ => (float)(_rng.NextDouble() * 2 - 1)).ToArray();

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

    [Theory]
    [InlineData(1, 7, 5, WeightLayout.Linear, false)]
    [InlineData(3, 64, 130, WeightLayout.Linear, true)]
    [InlineData(9, 33, 65, WeightLayout.Linear, true)]
    [InlineData(1, 48, 200, WeightLayout.Conv1D, true)]
    [InlineData(9, 65, 129, WeightLayout.Conv1D, false)]
    [InlineData(12, 17, 64, WeightLayout.Conv1D, true)]
    public void EpiloguesGiveTheComposedOperationsBitForBit(int rows, int inF, int outF, WeightLayout layout, bool withBias)
    {
        var x = Tensor("x", Values(rows * inF), rows, inF);
        var w = layout == WeightLayout.Linear ? Tensor("w", Values(inF * outF), outF, inF) : Tensor("w", Values(inF * outF), inF, outF);
        var b = withBias ? Tensor("b", Values(outF), outF) : null;
        var residual = Values(rows * outF);

        var product = _be.Allocate("product", TensorDType.F32, rows, outF);
        _be.MatMul(x, w, layout, b, product);
        var composedSum = Tensor("sum", residual, rows, outF);
        _be.Add(composedSum, product, composedSum);
        var fusedSum = Tensor("fused.sum", residual, rows, outF);
        _be.MatMul(x, w, layout, b, fusedSum, MatMulEpilogue.Accumulate);
        Assert.Equal(Read(composedSum), Read(fusedSum));
        Assert.NotEqual(Read(product), Read(fusedSum)); // the residual was really added

        _be.GeluNew(product, product);
        var fusedGelu = Tensor("fused.gelu", Values(rows * outF), rows, outF); // overwritten, not added to
        _be.MatMul(x, w, layout, b, fusedGelu, MatMulEpilogue.GeluNew);
        Assert.Equal(Read(product), Read(fusedGelu));

        var plain = Tensor("plain", Values(rows * outF), rows, outF);
        _be.MatMul(x, w, layout, b, plain, MatMulEpilogue.None);
        var reference = _be.Allocate("reference", TensorDType.F32, rows, outF);
        _be.MatMul(x, w, layout, b, reference);
        Assert.Equal(Read(reference), Read(plain));
    }

    [Fact]
    public void AccumulatingIntoAMisShapedOutputOrAnUnknownEpilogueIsAClearError()
    {
        var x = Tensor("x", Values(2 * 8), 2, 8);
        var w = Tensor("blk.0.w", Values(8 * 5), 8, 5);
        var narrow = Tensor("hidden.0", Values(2 * 4), 2, 4);
        var e = Assert.Throws<ArgumentException>(() => _be.MatMul(x, w, WeightLayout.Conv1D, null, narrow, MatMulEpilogue.Accumulate));
        Assert.Contains("hidden.0", e.Message);
        var fewRows = Tensor("hidden.1", Values(3 * 5), 3, 5);
        e = Assert.Throws<ArgumentException>(() => _be.MatMul(x, w, WeightLayout.Conv1D, null, fewRows, MatMulEpilogue.Accumulate));
        Assert.Contains("hidden.1", e.Message);
        var y = _be.Allocate("y", TensorDType.F32, 2, 5);
        Assert.Throws<NnlArgumentException>(() => _be.MatMul(x, w, WeightLayout.Conv1D, null, y, (MatMulEpilogue)7));
    }

    [Theory]
    [InlineData(1, 1600, 48, WeightLayout.Conv1D, NormKind.LayerNorm, true, true)]
    [InlineData(3, 33, 65, WeightLayout.Conv1D, NormKind.LayerNorm, false, true)]
    [InlineData(4, 64, 130, WeightLayout.Linear, NormKind.LayerNorm, true, false)]
    [InlineData(2, 17, 9, WeightLayout.Linear, NormKind.RmsNorm, false, true)]
    [InlineData(9, 96, 40, WeightLayout.Conv1D, NormKind.RmsNorm, false, false)]
    public void NormMatMulGivesTheNormThenTheProductBitForBit(int rows, int inF, int outF, WeightLayout layout, NormKind kind, bool normBias, bool withBias)
    {
        // An offset mean, so the LayerNorm's subtraction matters.
        var xValues = Values(rows * inF).Select(v => v + 0.5f).ToArray();
        var x = Tensor("x", xValues, rows, inF);
        var gamma = Tensor("norm.w", Values(inF), inF);
        var beta = normBias ? Tensor("norm.b", Values(inF), inF) : null;
        var norm = kind == NormKind.LayerNorm ? RowNorm.Layer(gamma, beta, 1e-5f) : RowNorm.Rms(gamma, 1e-6f);
        var w = layout == WeightLayout.Linear ? Tensor("w", Values(inF * outF), outF, inF) : Tensor("w", Values(inF * outF), inF, outF);
        var b = withBias ? Tensor("b", Values(outF), outF) : null;
        var residual = Values(rows * outF);

        var normed = _be.Allocate("normed", TensorDType.F32, rows, inF);
        if (kind == NormKind.LayerNorm) _be.LayerNorm(x, gamma, beta, 1e-5f, normed);
        else _be.RmsNorm(x, gamma, 1e-6f, normed);
        foreach (var epilogue in Enum.GetValues<MatMulEpilogue>())
        {
            var composed = Tensor("composed", residual, rows, outF);
            _be.MatMul(normed, w, layout, b, composed, epilogue);
            var fused = Tensor("fused", residual, rows, outF);
            var scratch = Tensor("scratch", Values(rows * inF), rows, inF);
            _be.NormMatMul(x, norm, scratch, w, layout, b, fused, epilogue);
            Assert.Equal(Read(composed), Read(fused));
            Assert.Equal(xValues, Read(x));              // x is only read
        }
        // The product really saw the normalised rows: the raw x gives something else.
        var raw = _be.Allocate("raw", TensorDType.F32, rows, outF);
        _be.MatMul(x, w, layout, b, raw);
        var plain = _be.Allocate("plain", TensorDType.F32, rows, outF);
        _be.NormMatMul(x, norm, _be.Allocate("scratch", TensorDType.F32, rows, inF), w, layout, b, plain);
        Assert.NotEqual(Read(raw), Read(plain));
    }

    [Fact]
    public void NormMatMulInPlaceOnItsInputAndBadNormsAreHandled()
    {
        int rows = 2, inF = 12, outF = 5;
        var xValues = Values(rows * inF);
        var gamma = Tensor("norm.w", Values(inF), inF);
        var w = Tensor("w", Values(inF * outF), outF, inF);
        var expected = _be.Allocate("expected", TensorDType.F32, rows, outF);
        var normed = _be.Allocate("normed", TensorDType.F32, rows, inF);
        _be.RmsNorm(Tensor("x0", xValues, rows, inF), gamma, 1e-6f, normed);
        _be.MatMul(normed, w, WeightLayout.Linear, null, expected);
        // normOutput may be x itself (the norm in place).
        var x = Tensor("x", xValues, rows, inF);
        var y = _be.Allocate("y", TensorDType.F32, rows, outF);
        _be.NormMatMul(x, RowNorm.Rms(gamma, 1e-6f), x, w, WeightLayout.Linear, null, y);
        Assert.Equal(Read(expected), Read(y));

        var fresh = Tensor("x.fresh", xValues, rows, inF);
        var scratch = _be.Allocate("scratch", TensorDType.F32, rows, inF);
        var e = Assert.Throws<NnlArgumentException>(() =>
            _be.NormMatMul(fresh, new RowNorm(NormKind.RmsNorm, gamma, Tensor("norm.b", Values(inF), inF), 1e-6f), scratch, w, WeightLayout.Linear, null, y));
        Assert.Contains("norm.b", e.Message);
        Assert.Throws<NnlArgumentException>(() =>
            _be.NormMatMul(fresh, new RowNorm((NormKind)9, gamma, null, 1e-6f), scratch, w, WeightLayout.Linear, null, y));
        // The product's rules hold: its output may not be the norm's output.
        Assert.Throws<ArgumentException>(() => _be.NormMatMul(fresh, RowNorm.Rms(gamma, 1e-6f), scratch, w, WeightLayout.Linear, null, scratch));
    }

    /// <summary>q, k, v of one fused [rows, q + 2 kv] tensor: rotated, stored and attended through views, or through copies.</summary>
    private (float[] Attention, float[] Qkv, float[] KCache, float[] VCache) Attend(float[] qkvValues, float[] prefixK, float[] prefixV, bool views,
        int rows, int heads, int kvHeads, int hd)
    {
        int qw = heads * hd, kw = kvHeads * hd, width = qw + 2 * kw;
        var shape = new AttentionShape(heads, kvHeads, hd, 1f / MathF.Sqrt(hd));
        var rope = new RotaryEmbedding(hd, Enumerable.Range(0, hd / 2).Select(i => (float)Math.Pow(10000, -2.0 * i / hd)).ToArray());
        var kc = _be.Allocate("k.cache", TensorDType.F32, 2, 16, kw);
        var vc = _be.Allocate("v.cache", TensorDType.F32, 2, 16, kw);
        const int prefix = 10;
        using (var prefill = _be.PrepareBatch(new TokenBatch(new int[prefix], Enumerable.Range(0, prefix).Select(i => i / 2).ToArray(),
                   Enumerable.Range(0, prefix).Select(i => i % 2).ToArray(), [prefix - 1])))
            _be.StoreKv(Tensor("k.prefix", prefixK, prefix, kw), Tensor("v.prefix", prefixV, prefix, kw), kc, vc, prefill);

        var qkv = Tensor("qkv", qkvValues, rows, width);
        using var batch = _be.PrepareBatch(new TokenBatch(new int[rows], Enumerable.Range(0, rows).Select(r => prefix / 2 + r / 2).ToArray(),
            Enumerable.Range(0, rows).Select(r => r % 2).ToArray(), [rows - 1]));
        BackendTensor q, k, v;
        if (views)
        {
            (q, k, v) = (_be.ColumnView(qkv, 0, qw), _be.ColumnView(qkv, qw, kw), _be.ColumnView(qkv, qw + kw, kw));
        }
        else
        {
            (q, k, v) = (_be.Allocate("q", TensorDType.F32, rows, qw), _be.Allocate("k", TensorDType.F32, rows, kw), _be.Allocate("v", TensorDType.F32, rows, kw));
            _be.SliceColumns(qkv, 0, q);
            _be.SliceColumns(qkv, qw, k);
            _be.SliceColumns(qkv, qw + kw, v);
        }
        _be.Rope(q, batch, heads, rope);
        _be.Rope(k, batch, kvHeads, rope);
        _be.StoreKv(k, v, kc, vc, batch);
        var y = _be.Allocate("attn", TensorDType.F32, rows, qw);
        _be.Attention(q, kc, vc, batch, shape, y);
        float[] after;
        if (views) after = Read(qkv);
        else
        {
            after = new float[rows * width];
            foreach (var (t, cols, offset) in new[] { (q, qw, 0), (k, kw, qw), (v, kw, qw + kw) })
            {
                var part = Read(t);
                for (int r = 0; r < rows; r++) Array.Copy(part, r * cols, after, r * width + offset, cols);
            }
        }
        return (Read(y), after, Read(kc), Read(vc));
    }

    [Theory]
    [InlineData(1, 4, 2, 8)]
    [InlineData(9, 6, 3, 16)]
    [InlineData(12, 3, 3, 10)]
    public void RopeStoreKvAndAttentionThroughViewsMatchCopies(int rows, int heads, int kvHeads, int hd)
    {
        int width = (heads + 2 * kvHeads) * hd;
        var qkv = Values(rows * width);
        var prefixK = Values(10 * kvHeads * hd);
        var prefixV = Values(10 * kvHeads * hd);
        var viewed = Attend(qkv, prefixK, prefixV, true, rows, heads, kvHeads, hd);
        var copied = Attend(qkv, prefixK, prefixV, false, rows, heads, kvHeads, hd);
        Assert.Equal(copied.Attention, viewed.Attention);
        Assert.Equal(copied.Qkv, viewed.Qkv);       // rope wrote through the views into the source
        Assert.Equal(copied.KCache, viewed.KCache);
        Assert.Equal(copied.VCache, viewed.VCache);
        Assert.NotEqual(qkv, viewed.Qkv);            // q and k did rotate
        int qw = heads * hd, kw = kvHeads * hd;
        for (int r = 0; r < rows; r++)               // v did not
            Assert.Equal(qkv.AsSpan(r * width + qw + kw, kw).ToArray(), viewed.Qkv.AsSpan(r * width + qw + kw, kw).ToArray());
    }

    [Fact]
    public void AViewOwnsNothingAndOnlyRopeStoreKvAndAttentionTakeOne()
    {
        var values = Values(3 * 12);
        var source = Tensor("qkv", values, 3, 12);
        var allocated = _be.AllocatedBytes;
        var view = _be.ColumnView(source, 4, 4);
        Assert.Equal(allocated, _be.AllocatedBytes);
        Assert.Equal(12, view.RowStride);
        Assert.Same(source, view.ViewOf);
        Assert.Equal(new long[] { 3, 4 }, view.Shape);
        var nested = _be.ColumnView(view, 1, 2);     // a view of a view: columns 5..7 of the source
        Assert.Same(view, nested.ViewOf);
        Assert.Throws<NnlArgumentException>(() => _be.ColumnView(source, 10, 4));
        Assert.Throws<NnlArgumentException>(() => _be.ColumnView(source, -1, 4));
        Assert.Throws<NnlArgumentException>(() => _be.ColumnView(source, 0, 0));

        var other = _be.Allocate("other", TensorDType.F32, 3, 4);
        var w = Tensor("w", Values(16), 4, 4);
        foreach (var call in new Action[]
                 {
                     () => _be.Add(view, other, other),
                     () => _be.Add(other, other, view),
                     () => _be.GeluNew(view, other),
                     () => _be.MatMul(view, w, WeightLayout.Linear, null, other),
                     () => _be.MatMul(other, w, WeightLayout.Linear, null, view, MatMulEpilogue.Accumulate),
                     () => _be.MatMul(other, view, WeightLayout.Linear, null, other),
                     () => _be.LayerNorm(view, w, null, 1e-5f, other),
                     () => _be.SliceColumns(source, 0, view),
                     () => _be.Upload(view, new float[12]),
                     () => _be.Download(view, new float[12]),
                 })
            Assert.Contains("column view", Assert.Throws<NnlArgumentException>(call).Message);

        _be.Release(view);                           // frees nothing: the source reads as before
        Assert.Equal(allocated + other.ByteCount + w.ByteCount, _be.AllocatedBytes);
        Assert.Equal(values, Read(source));
        Assert.ThrowsAny<InvalidOperationException>(() => _be.Rope(view, null!, 1, new RotaryEmbedding(4, [1f, 0.5f])));
        _be.Release(source);
        Assert.ThrowsAny<InvalidOperationException>(() => _be.Rope(nested, null!, 1, new RotaryEmbedding(2, [1f])));
    }
}
