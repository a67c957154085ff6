using Nnl.Engine.Models;
using Nnl.Engine.Runtime;
using Nnl.Engine.Runtime.Cpu;
using Nnl.Engine.Runtime.Cuda;

namespace Nnl.Engine.Tests.Kernels;

/// <summary>
/// Column views on the CUDA backend: Rope, StoreKv and Attention reading q, k and v straight out of
/// a fused qkv product give bit for bit what they give on copies (SliceColumns), on both attention
/// paths, for one row and for more rows than the split path takes; the CPU backend with views
/// agrees; a view owns nothing, and every other operation refuses one.
/// </summary>
[Trait("Category", "Gpu")]
[Collection("Gpu")]
public class CudaColumnViewTests
{
    private const double MaxNmse = 1e-10;
    private const int Capacity = 16;

    private sealed record Result(float[] Attention, float[] Qkv);

    /// <summary>
    /// A prefix of 6 positions in each of two slots (stored from whole tensors), then one step of
    /// <paramref name="rows"/> rows (alternating slots) whose q, k, v come from one [rows, q + 2 kv] tensor.
    /// </summary>
    private static Result Run(IComputeBackend be, TensorDType cacheType, bool views, int rows, int heads, int kvHeads, int hd, int seed)
    {
        var rng = new Random(seed);
        int qw = heads * hd, kw = kvHeads * hd, width = qw + 2 * kw;
        var shape = new AttentionShape(heads, kvHeads, hd, 1f / MathF.Sqrt(hd));
        var rope = new RotaryEmbedding(hd, KernelReference.InvFreq(hd, 10000));
        var kc = be.Allocate("k.cache", cacheType, 2, Capacity, kw);
        var vc = be.Allocate("v.cache", cacheType, 2, Capacity, kw);
        var tensors = new List<BackendTensor> { kc, vc };
        BackendTensor Upload(string name, int r, int c)
        {
            var t = be.Allocate(name, TensorDType.F32, r, c);
            be.Upload(t, KernelData.ToFloats(KernelData.Uniform(rng, r * c, 1)));
            tensors.Add(t);
            return t;
        }

        const int prefix = 12;
        using (var prefill = be.PrepareBatch(new TokenBatch(new int[prefix], Enumerable.Range(0, prefix).Select(i => i / 2).ToArray(),
                   Enumerable.Range(0, prefix).Select(i => i % 2).ToArray(), [prefix - 1])))
            be.StoreKv(Upload("k.prefix", prefix, kw), Upload("v.prefix", prefix, kw), kc, vc, prefill);

        var qkv = Upload("qkv", rows, width);
        using var batch = be.PrepareBatch(new TokenBatch(new int[rows], Enumerable.Range(0, rows).Select(r => prefix / 2 + r / 2).ToArray(),
            Enumerable.Range(0, rows).Select(r => r % 2).ToArray(), [rows - 1]));
        BackendTensor q, k, v;
        if (views)
        {
            q = be.ColumnView(qkv, 0, qw);
            k = be.ColumnView(qkv, qw, kw);
            v = be.ColumnView(qkv, qw + kw, kw);
        }
        else
        {
            q = be.Allocate("q", TensorDType.F32, rows, qw);
            k = be.Allocate("k", TensorDType.F32, rows, kw);
            v = be.Allocate("v", TensorDType.F32, rows, kw);
            be.SliceColumns(qkv, 0, q);
            be.SliceColumns(qkv, qw, k);
            be.SliceColumns(qkv, qw + kw, v);
        }
        tensors.AddRange([q, k, v]);
        be.Rope(q, batch, heads, rope);
        be.Rope(k, batch, kvHeads, rope);
        be.StoreKv(k, v, kc, vc, batch);
        var y = be.Allocate("attn", TensorDType.F32, rows, qw);
        tensors.Add(y);
        be.Attention(q, kc, vc, batch, shape, y);

        var attention = new float[y.ElementCount];
        be.Download(y, attention);
        // What the qkv tensor holds afterwards: rotated q and k written through the views, v untouched.
        var after = new float[rows * width];
        if (views) be.Download(qkv, after);
        else
        {
            var parts = new[] { (q, qw, 0), (k, kw, qw), (v, kw, qw + kw) };
            foreach (var (t, cols, offset) in parts)
            {
                var part = new float[rows * cols];
                be.Download(t, part);
                for (int r = 0; r < rows; r++) Array.Copy(part, r * cols, after, r * width + offset, cols);
            }
        }
        foreach (var t in Enumerable.Reverse(tensors)) be.Release(t);
        return new Result(attention, after);
    }

    [GpuTheory]
    [InlineData(1, 6, 2, 32)]
    [InlineData(2, 4, 4, 64)]
    [InlineData(11, 6, 2, 32)]
    [InlineData(11, 5, 5, 17)]
    public void RopeStoreKvAndAttentionReadColumnViewsAsTheyReadCopies(int rows, int heads, int kvHeads, int hd)
    {
        using var h = new GpuHarness();
        int seed = HashCode.Combine(rows, heads, kvHeads, hd);
        foreach (var path in Enum.GetValues<CudaAttentionPath>())
            foreach (var cacheType in new[] { TensorDType.F32, TensorDType.F16 })
            {
                h.Backend.ForcedAttentionPath = path;
                var viewed = Run(h.Backend, cacheType, true, rows, heads, kvHeads, hd, seed);
                var copied = Run(h.Backend, cacheType, false, rows, heads, kvHeads, hd, seed);
                string what = $"{path} {cacheType} cache, {rows} rows, {heads}/{kvHeads} heads of {hd}";
                if (!viewed.Attention.SequenceEqual(copied.Attention)) h.Fail($"{what}: attention through views differs from attention on copies");
                if (!viewed.Qkv.SequenceEqual(copied.Qkv)) h.Fail($"{what}: rope through views did not land in the source as on copies");
                if (cacheType == TensorDType.F32)
                {
                    using var cpu = new CpuBackend();
                    var reference = Run(cpu, TensorDType.F32, true, rows, heads, kvHeads, hd, seed);
                    h.Check(viewed.Attention, KernelData.ToDoubles(reference.Attention), MaxNmse, $"{what}: attention vs the CPU backend");
                    h.Check(viewed.Qkv, KernelData.ToDoubles(reference.Qkv), MaxNmse, $"{what}: qkv after rope vs the CPU backend");
                }
            }
        h.Backend.ForcedAttentionPath = null;
        h.AssertAll();
    }

    [GpuFact]
    public void AViewOwnsNothingAndOnlyRopeStoreKvAndAttentionTakeOne()
    {
        using var h = new GpuHarness();
        var rng = new Random(43);
        var values = KernelData.Uniform(rng, 3 * 12, 1);
        var source = h.Activation("qkv", values, 3, 12);
        var view = h.Backend.ColumnView(source, 4, 4);
        Assert.Equal(12, view.RowStride);
        Assert.Same(source, view.ViewOf);
        Assert.Equal(new long[] { 3, 4 }, view.Shape);
        Assert.Throws<NnlArgumentException>(() => h.Backend.ColumnView(source, 10, 4));
        Assert.Throws<NnlArgumentException>(() => h.Backend.ColumnView(source, -1, 4));

        var other = h.Backend.Allocate("other", TensorDType.F32, 3, 4);
        foreach (var call in new Action[]
                 {
                     () => h.Backend.Add(view, other, other),
                     () => h.Backend.GeluNew(view, other),
                     () => h.Backend.Softmax(other, view),
                     () => h.Backend.SliceColumns(source, 0, view),
                     () => h.Backend.Download(view, new float[12]),
                 })
            Assert.Contains("column view", Assert.Throws<NnlArgumentException>(call).Message);

        h.Backend.Release(view);                         // frees nothing: the source reads as before
        Assert.Equal(KernelData.ToFloats(values), h.Download(source));
        Assert.Throws<NnlArgumentException>(() => h.Backend.Rope(view, null!, 1, new RotaryEmbedding(4, [1f, 0.5f])));
        var orphan = h.Backend.ColumnView(source, 0, 4);
        h.Backend.Release(source);
        Assert.Contains("released", Assert.Throws<NnlArgumentException>(() => h.Backend.GeluNew(orphan, other)).Message);
    }
}
