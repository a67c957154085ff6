using Nnl.Engine.Models;
using Nnl.Engine.Runtime;

namespace Nnl.Engine.Tests.Kernels;

/// <summary>
/// Norms, embedding, activations, residual add, softmax, slicing, gathering and argmax on the
/// CUDA backend against the float64 reference, on the row shapes (one element, odd widths, 4097).
/// </summary>
[Trait("Category", "Gpu")]
[Collection("Gpu")]
public class CudaRowOperationTests
{
    private const double MaxNmse = 1e-10;

    [GpuTheory]
    [MemberData(nameof(KernelShapes.Rows), MemberType = typeof(KernelShapes))]
    public void NormsMatchTheReferenceForEveryWeightType(int rows, int dim)
    {
        using var h = new GpuHarness();
        var rng = new Random(HashCode.Combine(rows, dim, 41));
        // An offset mean, so a kernel that skips the mean subtraction cannot pass.
        var x = KernelData.Uniform(rng, rows * dim, 3).Select(v => (double)(float)(v + 0.75)).ToArray();
        foreach (var type in GpuHarness.AllTypes)
        {
            var w = KernelData.Uniform(rng, dim, 1.5, type);
            var b = KernelData.Uniform(rng, dim, 0.5, type);
            var b32 = KernelData.Uniform(rng, dim, 0.5, KernelDType.F32);
            var wt = h.Weight("norm.w", w, type, dim);
            var bt = h.Weight("norm.b", b, type, dim);
            var b32t = h.Weight("norm.b32", b32, KernelDType.F32, dim);
            var xt = h.Activation("x", x, rows, dim);
            var y = h.Backend.Allocate("y", TensorDType.F32, rows, dim);

            h.Backend.LayerNorm(xt, wt, bt, 1e-5f, y);
            h.Check(h.Download(y), KernelReference.LayerNorm(x, rows, dim, w, b, 1e-5), MaxNmse, $"LayerNorm {type} [{rows},{dim}]");
            h.Backend.LayerNorm(xt, wt, null, 1e-5f, y);
            h.Check(h.Download(y), KernelReference.LayerNorm(x, rows, dim, w, null, 1e-5), MaxNmse, $"LayerNorm no bias {type} [{rows},{dim}]");
            h.Backend.LayerNorm(xt, wt, b32t, 1e-5f, y);
            h.Check(h.Download(y), KernelReference.LayerNorm(x, rows, dim, w, b32, 1e-5), MaxNmse, $"LayerNorm F32 bias {type} [{rows},{dim}]");
            h.Backend.RmsNorm(xt, wt, 1e-6f, y);
            h.Check(h.Download(y), KernelReference.RmsNorm(x, rows, dim, w, 1e-6), MaxNmse, $"RmsNorm {type} [{rows},{dim}]");
            h.Backend.RmsNorm(xt, wt, 1e-6f, xt);                       // in place
            h.Check(h.Download(xt), KernelReference.RmsNorm(x, rows, dim, w, 1e-6), MaxNmse, $"RmsNorm in place {type} [{rows},{dim}]");
            foreach (var t in new[] { wt, bt, b32t, xt, y }) h.Backend.Release(t);
        }
        h.AssertAll();
    }

    [GpuTheory]
    [MemberData(nameof(KernelShapes.Rows), MemberType = typeof(KernelShapes))]
    public void EmbeddingLooksUpTokenAndPositionRows(int rows, int dim)
    {
        using var h = new GpuHarness();
        var rng = new Random(HashCode.Combine(rows, dim, 43));
        int vocab = 97, maxPos = 64;
        var ids = Enumerable.Range(0, rows).Select(_ => rng.Next(vocab)).ToArray();
        var positions = Enumerable.Range(0, rows).Select(_ => rng.Next(maxPos)).ToArray();
        using var batch = h.Backend.PrepareBatch(new TokenBatch(ids, positions, new int[rows], [rows - 1]));
        foreach (var type in GpuHarness.AllTypes)
        {
            var table = KernelData.Uniform(rng, vocab * dim, 1, type);
            var posTable = KernelData.Uniform(rng, maxPos * dim, 1, type);
            var tt = h.Weight("token_embd", table, type, vocab, dim);
            var pt = h.Weight("position_embd", posTable, type, maxPos, dim);
            var y = h.Backend.Allocate("y", TensorDType.F32, rows, dim);
            h.Backend.EmbeddingLookup(tt, batch, EmbeddingIndex.Token, y);
            h.Check(h.Download(y), KernelReference.Embedding(ids, table, dim, null, null), 0, $"token embedding {type} [{rows},{dim}]");
            h.Backend.EmbeddingLookup(pt, batch, EmbeddingIndex.Position, y);
            h.Check(h.Download(y), KernelReference.Embedding(positions, posTable, dim, null, null), 0, $"position embedding {type} [{rows},{dim}]");
            foreach (var t in new[] { tt, pt, y }) h.Backend.Release(t);
        }
        h.AssertAll();
    }

    [GpuTheory]
    [MemberData(nameof(KernelShapes.Rows), MemberType = typeof(KernelShapes))]
    public void ActivationsAddAndSoftmaxMatchTheReference(int rows, int cols)
    {
        using var h = new GpuHarness();
        var rng = new Random(HashCode.Combine(rows, cols, 47));
        var a = KernelData.Uniform(rng, rows * cols, 6);
        var b = KernelData.Uniform(rng, rows * cols, 6);
        var at = h.Activation("a", a, rows, cols);
        var bt = h.Activation("b", b, rows, cols);
        var y = h.Backend.Allocate("y", TensorDType.F32, rows, cols);

        h.Backend.GeluNew(at, y);
        h.Check(h.Download(y), KernelReference.Map(a, KernelReference.GeluNew), MaxNmse, $"gelu_new [{rows},{cols}]",
            KernelData.ActivationNormFloor(a));
        h.Backend.SiluMul(at, bt, y);
        h.Check(h.Download(y), a.Zip(b, (g, u) => KernelReference.Silu(g) * u).ToArray(), MaxNmse, $"silu·up [{rows},{cols}]");
        h.Backend.Add(at, bt, y);
        h.Check(h.Download(y), a.Zip(b, (u, v) => u + v).ToArray(), 1e-13, $"add [{rows},{cols}]");
        h.Backend.Softmax(at, y);
        h.Check(h.Download(y), KernelReference.Softmax(a, rows, cols), MaxNmse, $"softmax [{rows},{cols}]");
        var argmax = h.Backend.Argmax(at);
        Assert.Equal(KernelReference.Argmax(a, rows, cols), argmax);

        // In place: output = first input.
        h.Backend.SiluMul(at, bt, at);
        h.Check(h.Download(at), a.Zip(b, (g, u) => KernelReference.Silu(g) * u).ToArray(), MaxNmse, $"silu·up in place [{rows},{cols}]");
        h.Backend.Add(bt, bt, bt);
        h.Check(h.Download(bt), b.Select(v => 2 * v).ToArray(), 0, $"add in place [{rows},{cols}]");
        h.Backend.GeluNew(bt, bt);
        h.Check(h.Download(bt), b.Select(v => KernelReference.GeluNew(2 * v)).ToArray(), MaxNmse, $"gelu_new in place [{rows},{cols}]",
            KernelData.ActivationNormFloor(b.Select(v => 2 * v).ToArray()));
        h.AssertAll();
    }

    [GpuTheory]
    [MemberData(nameof(KernelShapes.Rows), MemberType = typeof(KernelShapes))]
    public void SliceColumnsAndGatherRowsCopyTheRightElements(int rows, int cols)
    {
        using var h = new GpuHarness();
        var rng = new Random(HashCode.Combine(rows, cols, 53));
        int wide = 3 * cols + 1;
        var x = KernelData.Uniform(rng, rows * wide, 1);
        var xt = h.Activation("qkv", x, rows, wide);
        foreach (int offset in new[] { 0, cols, 2 * cols + 1 })
        {
            var y = h.Backend.Allocate("slice", TensorDType.F32, rows, cols);
            h.Backend.SliceColumns(xt, offset, y);
            var expected = new double[rows * cols];
            for (int r = 0; r < rows; r++)
                for (int c = 0; c < cols; c++) expected[r * cols + c] = x[r * wide + offset + c];
            h.Check(h.Download(y), expected, 0, $"slice at {offset} [{rows},{cols}] of {wide}");
        }
        var outputRows = Enumerable.Range(0, Math.Min(rows, 3)).Select(_ => rng.Next(rows)).ToArray();
        using var batch = h.Backend.PrepareBatch(new TokenBatch(new int[rows], Enumerable.Range(0, rows).ToArray(), new int[rows], outputRows));
        var g = h.Backend.Allocate("gathered", TensorDType.F32, outputRows.Length, wide);
        h.Backend.GatherRows(xt, batch, g);
        h.Check(h.Download(g), outputRows.SelectMany(r => x.Skip(r * wide).Take(wide)).ToArray(), 0, $"gather [{string.Join(",", outputRows)}]");
        h.AssertAll();
    }

    [GpuFact]
    public void ArgmaxKeepsTheFirstOfEqualMaxima()
    {
        using var h = new GpuHarness();
        int cols = 5000;
        var x = KernelData.Uniform(new Random(59), 2 * cols, 1);
        x[1234] = x[4321] = 7;             // row 0: tie, the first wins
        x[cols + 4999] = 9;                // row 1: the last column
        var xt = h.Activation("logits", x, 2, cols);
        Assert.Equal([1234, 4999], h.Backend.Argmax(xt));
    }
}
