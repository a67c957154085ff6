using Nnl.Engine.Models;
using Nnl.Engine.Runtime;
using Nnl.Engine.Runtime.Cuda;

namespace Nnl.Engine.Tests.Kernels;

/// <summary>
/// DecoderBlock on the CUDA backend (one persistent kernel for a one-token block, kernels/decoder_block.cu)
/// against a float64 reference of the block: LayerNorm → qkv → the new k and v into the cache →
/// attention over the slot's cached positions → out-projection added into x → LayerNorm → up →
/// gelu_new → down added into x. fp16, bf16 and fp32 weights and caches; GPT-2-shaped heads,
/// grouped heads of 128, GPT-2-XL's block; several positions in a row (the kernel leaves its
/// counters ready for the next launch), two layers chained in a graph step (programmatic launch on
/// sm_90: the second block streams its rows while the first runs), and the composed path agreeing
/// with the same reference.
/// </summary>
[Trait("Category", "Gpu")]
[Collection("Gpu")]
public class CudaDecoderBlockTests
{
    // fp32 accumulation over k up to 6400, fp32 softmax. The caches round k and v as the reference
    // does, but from an fp32 sum: now and then one lands on the other side of a rounding boundary.
    private const double MaxNmse = 1e-8;
    private const double CacheMaxNmse = 1e-6;

    /// <summary>hidden, heads, kv heads, head size, inner, first position.</summary>
    public static TheoryData<int, int, int, int, int, int> Shapes => new()
    {
        { 256, 4, 4, 64, 1024, 37 },
        { 384, 3, 1, 128, 1536, 5 },
        { 1600, 25, 25, 64, 6400, 49 },
    };

    private sealed record Block(int Hidden, int Inner, AttentionShape Shape, KernelDType Type,
        double[] Ln1W, double[] Ln1B, double[] Wqkv, double[] Bqkv, double[] Wout, double[] Bout,
        double[] Ln2W, double[] Ln2B, double[] Wup, double[] Bup, double[] Wdown, double[] Bdown)
    {
        public const double Epsilon = 1e-5;
        public int QkvWidth => Shape.QueryWidth + 2 * Shape.KvWidth;

        public static Block Draw(Random rng, int hidden, int inner, AttentionShape shape, KernelDType type)
        {
            double[] Norm(int n) => KernelData.Uniform(rng, n, 0.2, type).Select(v => KernelData.Round(1 + v, type)).ToArray();
            int n = shape.QueryWidth + 2 * shape.KvWidth;
            return new Block(hidden, inner, shape, type,
                Norm(hidden), KernelData.Uniform(rng, hidden, 0.1, type),
                KernelData.Uniform(rng, n * hidden, 1 / Math.Sqrt(hidden), type), KernelData.Uniform(rng, n, 0.1, type),
                KernelData.Uniform(rng, hidden * shape.QueryWidth, 1 / Math.Sqrt(shape.QueryWidth), type), KernelData.Uniform(rng, hidden, 0.1, type),
                Norm(hidden), KernelData.Uniform(rng, hidden, 0.1, type),
                KernelData.Uniform(rng, inner * hidden, 1 / Math.Sqrt(hidden), type), KernelData.Uniform(rng, inner, 0.1, type),
                KernelData.Uniform(rng, hidden * inner, 1 / Math.Sqrt(inner), type), KernelData.Uniform(rng, hidden, 0.1, type));
        }

        /// <summary>The block on the host in float64: returns the new x and writes k, v into the mirror's slot at the position.</summary>
        public double[] Reference(double[] x, CacheMirror cache, int slot, int position)
        {
            var n1 = KernelReference.LayerNorm(x, 1, Hidden, Ln1W, Ln1B, Epsilon);
            var qkv = KernelReference.Linear(n1, 1, Hidden, Wqkv, QkvWidth, Bqkv, null);
            int qw = Shape.QueryWidth, kvw = Shape.KvWidth;
            for (int c = 0; c < kvw; c++)
            {
                cache.HostK[slot][position * kvw + c] = KernelData.Round(qkv[qw + c], cache.Type);
                cache.HostV[slot][position * kvw + c] = KernelData.Round(qkv[qw + kvw + c], cache.Type);
            }
            var attention = KernelReference.Attention(qkv, 1, QkvWidth, cache.HostK[slot], cache.HostV[slot], [position],
                Shape.HeadCount, Shape.KvHeadCount, Shape.HeadDim, Shape.Scale, Shape.SlidingWindow);
            var x1 = KernelReference.Linear(attention, 1, qw, Wout, Hidden, Bout, x);
            var n2 = KernelReference.LayerNorm(x1, 1, Hidden, Ln2W, Ln2B, Epsilon);
            var up = KernelReference.Map(KernelReference.Linear(n2, 1, Hidden, Wup, Inner, Bup, null), KernelReference.GeluNew);
            return KernelReference.Linear(up, 1, Inner, Wdown, Hidden, Bdown, x1);
        }

        public DecoderBlockWeights Upload(GpuHarness h) => new(
            RowNorm.Layer(h.Weight("ln1.w", Ln1W, Type, Hidden), h.Weight("ln1.b", Ln1B, Type, Hidden), (float)Epsilon),
            h.Weight("qkv", Wqkv, Type, QkvWidth, Hidden), h.Weight("qkv.b", Bqkv, Type, QkvWidth),
            h.Weight("out", Wout, Type, Hidden, Shape.QueryWidth), h.Weight("out.b", Bout, Type, Hidden),
            RowNorm.Layer(h.Weight("ln2.w", Ln2W, Type, Hidden), h.Weight("ln2.b", Ln2B, Type, Hidden), (float)Epsilon),
            h.Weight("up", Wup, Type, Inner, Hidden), h.Weight("up.b", Bup, Type, Inner),
            h.Weight("down", Wdown, Type, Hidden, Inner), h.Weight("down.b", Bdown, Type, Hidden),
            WeightLayout.Linear);

        public DecoderBlockScratch Scratch(GpuHarness h) => new(
            h.Backend.Allocate("n1", TensorDType.F32, 1, Hidden), h.Backend.Allocate("qkv", TensorDType.F32, 1, QkvWidth),
            h.Backend.Allocate("attn", TensorDType.F32, 1, Shape.QueryWidth), h.Backend.Allocate("n2", TensorDType.F32, 1, Hidden),
            h.Backend.Allocate("up", TensorDType.F32, 1, Inner));
    }

    /// <summary>The cache row the block wrote at (slot, position), as floats.</summary>
    private static float[] CacheRow(GpuHarness h, BackendTensor cache, KernelDType type, int slot, int position, int capacity, int width)
    {
        var bytes = new byte[((CudaTensor)cache).ByteCount];
        h.Backend.DownloadBytes(cache, bytes);
        int size = KernelData.ElementBytes(type);
        var row = new float[width];
        for (int c = 0; c < width; c++)
        {
            int at = (((slot * capacity) + position) * width + c) * size;
            row[c] = type switch
            {
                KernelDType.F16 => (float)BitConverter.ToHalf(bytes, at),
                KernelDType.BF16 => KernelData.BF16ToFloat(BitConverter.ToUInt16(bytes, at)),
                _ => BitConverter.ToSingle(bytes, at),
            };
        }
        return row;
    }

    [GpuTheory]
    [MemberData(nameof(Shapes))]
    public void OneKernelMatchesTheReferenceAtSuccessivePositions(int hidden, int heads, int kvHeads, int headDim, int inner, int position)
    {
        using var h = new GpuHarness();
        var rng = new Random(HashCode.Combine(hidden, heads, kvHeads, headDim, inner, position));
        var shape = new AttentionShape(heads, kvHeads, headDim, (float)(1.0 / Math.Sqrt(headDim)));
        foreach (var type in GpuHarness.AllTypes)
        {
            var block = Block.Draw(rng, hidden, inner, shape, type);
            var weights = block.Upload(h);
            var scratch = block.Scratch(h);
            foreach (bool fuse in new[] { true, false })
            {
                h.Backend.FuseDecoderBlock = fuse;
                // Slot 0 is another sequence (full); slot 1 holds the positions before this one.
                int capacity = position + 4;
                var cache = new CacheMirror(h, type, 2, capacity, shape.KvWidth);
                cache.Store(h, rng, Enumerable.Repeat(0, capacity).ToArray(), Enumerable.Range(0, capacity).ToArray());
                cache.Store(h, rng, Enumerable.Repeat(1, position).ToArray(), Enumerable.Range(0, position).ToArray());
                for (int p = position; p < position + 3; p++)
                {
                    var x = KernelData.Uniform(rng, hidden, 1);
                    var reference = block.Reference(x, cache, 1, p);
                    var xt = h.Activation("x", x, 1, hidden);
                    long fusedBefore = h.Backend.FusedDecoderBlocks;
                    using (var batch = h.Backend.PrepareBatch(new TokenBatch([1], [p], [1], [0])))
                        h.Backend.DecoderBlock(xt, weights, scratch, cache.K, cache.V, batch, shape);
                    string what = $"{(fuse ? "fused" : "composed")} {type} hidden {hidden} heads {heads}/{kvHeads}x{headDim} inner {inner} position {p}";
                    if (fuse != (h.Backend.FusedDecoderBlocks == fusedBefore + 1))
                        h.Fail($"{what}: ran {(fuse ? "composed" : "fused")} ({h.Backend.DecoderBlockCompositionReason})");
                    h.Check(h.Download(xt), reference, MaxNmse, what + ": x");
                    h.Check(CacheRow(h, cache.K, type, 1, p, capacity, shape.KvWidth), cache.HostK[1].Skip(p * shape.KvWidth).Take(shape.KvWidth).ToArray(), CacheMaxNmse, what + ": cached k");
                    h.Check(CacheRow(h, cache.V, type, 1, p, capacity, shape.KvWidth), cache.HostV[1].Skip(p * shape.KvWidth).Take(shape.KvWidth).ToArray(), CacheMaxNmse, what + ": cached v");
                    h.Backend.Release(xt);
                }
                h.Backend.Release(cache.K);
                h.Backend.Release(cache.V);
            }
        }
        h.AssertAll();
    }

    /// <summary>
    /// Two layers in one graph step, replayed for three tokens: the second layer's kernel depends on
    /// the first through a programmatic edge on sm_90 (it starts streaming early and must still read
    /// the first layer's x), and each replay finds the counters zero.
    /// </summary>
    [GpuFact]
    public void TwoLayersChainedInAGraphStepMatchTheReference()
    {
        using var h = new GpuHarness();
        h.Backend.FuseDecoderBlock = true;
        var rng = new Random(1702);
        const int hidden = 1600, inner = 6400, position = 20;
        var shape = new AttentionShape(25, 25, 64, 0.125f);
        var type = KernelDType.F16;
        var layers = new[] { Block.Draw(rng, hidden, inner, shape, type), Block.Draw(rng, hidden, inner, shape, type) };
        var weights = layers.Select(b => b.Upload(h)).ToArray();
        var scratch = layers[0].Scratch(h);
        int capacity = position + 4;
        var caches = layers.Select(_ => new CacheMirror(h, type, 1, capacity, shape.KvWidth)).ToArray();
        foreach (var c in caches) c.Store(h, rng, new int[position], Enumerable.Range(0, position).ToArray());
        var xt = h.Backend.Allocate("x", TensorDType.F32, 1, hidden);
        for (int p = position; p < position + 3; p++)
        {
            var x = KernelData.Uniform(rng, hidden, 1);
            var reference = layers[1].Reference(layers[0].Reference(x, caches[0], 0, p), caches[1], 0, p);
            h.Backend.Upload(xt, KernelData.ToFloats(x));
            using var batch = h.Backend.PrepareBatch(new TokenBatch([1], [p], [0], [0]));
            long fusedBefore = h.Backend.FusedDecoderBlocks;
            h.Backend.BeginGraphStep();
            for (int l = 0; l < 2; l++) h.Backend.DecoderBlock(xt, weights[l], scratch, caches[l].K, caches[l].V, batch, shape);
            h.Backend.EndGraphStep();
            if (h.Backend.FusedDecoderBlocks != fusedBefore + 2) h.Fail($"position {p}: a block was composed ({h.Backend.DecoderBlockCompositionReason})");
            h.Check(h.Download(xt), reference, MaxNmse, $"two layers, position {p}");
        }
        var stats = h.Backend.GraphStatistics;
        if (stats.Replays != 3 || stats.Fallbacks != 0) h.Fail($"graph steps: {stats}");
        h.AssertAll();
    }
}
