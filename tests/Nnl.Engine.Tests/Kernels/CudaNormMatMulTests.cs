using Nnl.Engine.Models;
using Nnl.Engine.Runtime;
using Nnl.Engine.Runtime.Cuda;

namespace Nnl.Engine.Tests.Kernels;

/// <summary>
/// NormMatMul on the CUDA backend against the float64 reference of the norm then the product. The
/// fused kernels (nnl_norm_gemv_*, each fused GEMV variant and the one the backend chooses) ×
/// fp16/bf16/fp32 × 1 to 4 rows × LayerNorm with and without its bias and RMSNorm × with and without
/// the product's bias × every epilogue × nn.Linear memory (a Linear weight, a Conv1D weight stored
/// transposed): one launch, x and normOutput untouched. What it does not fuse (more rows, rows too
/// long for shared memory, norm weights of another type, an output overlapping x, Conv1D memory,
/// a variant or path without a fused kernel, fusion turned off) composes the two operations and
/// agrees just the same.
/// </summary>
[Trait("Category", "Gpu")]
[Collection("Gpu")]
public class CudaNormMatMulTests
{
    // As CudaMatMulTests: fp32 accumulation over k up to 6400; the normalised rows are fp32 too.
    private const double MaxNmse = 1e-9;

    /// <summary>A harness whose backend fuses (off by default: slower in a decode step; these tests are about it).</summary>
    private static GpuHarness Fusing()
    {
        var h = new GpuHarness();
        h.Backend.FuseNormIntoGemv = true;
        h.Backend.FoldNormIntoProduct = false; // the register GEMV's fold has its own tests (CudaNormFoldTests)
        return h;
    }

    private static readonly CudaGemvVariant?[] FusedVariants =
        [null, CudaGemvVariant.OneRow, CudaGemvVariant.FourRows, CudaGemvVariant.BlockFourRows];

    private static readonly (NormKind Kind, bool Bias)[] Norms =
        [(NormKind.LayerNorm, true), (NormKind.LayerNorm, false), (NormKind.RmsNorm, false)];

    /// <summary>(nOut, k): GPT-2-XL's k with a row count no block size divides; an odd k (the norm's and the GEMV's scalar paths); k % 4 == 0 but not % 8 (float4 norm, scalar 16-bit GEMV).</summary>
    public static TheoryData<int, int> FusedShapes => new() { { 300, 1600 }, { 37, 203 }, { 65, 1604 } };

    [GpuTheory]
    [MemberData(nameof(FusedShapes))]
    public void TheFusedKernelsMatchTheReference(int nOut, int k)
    {
        using var h = Fusing();
        var rng = new Random(HashCode.Combine(nOut, k, 61));
        foreach (var type in GpuHarness.AllTypes)
        {
            var p = Parameters.Draw(h, rng, type, nOut, k);
            var conv1d = p.Conv1DStoredTransposed(h);
            for (int rows = 1; rows <= CudaBackend.NormGemvMaxRows; rows++)
            {
                var x = OffsetRows(rng, rows, k);
                var xt = h.Activation("x", x, rows, k);
                var residual = KernelData.Uniform(rng, rows * nOut, 1);
                foreach (var (kind, normBias) in Norms)
                    foreach (bool withBias in new[] { false, true })
                    {
                        var product = p.Reference(kind, normBias, withBias, x, rows);
                        foreach (var variant in FusedVariants)
                            foreach (var (layout, weight) in new[] { (WeightLayout.Linear, p.W), (WeightLayout.Conv1D, conv1d) })
                                foreach (var epilogue in Enum.GetValues<MatMulEpilogue>())
                                {
                                    h.Backend.ForcedGemvVariant = variant;
                                    Run(h, rng, xt, x, p.Norm(kind, normBias), weight, layout, withBias ? p.B : null, epilogue, product, residual,
                                        fused: true, $"{variant?.ToString() ?? "chosen"} {type} {kind} normBias={normBias} bias={withBias} {layout} {epilogue} x[{rows},{k}] -> [{rows},{nOut}]");
                                }
                    }
                h.Backend.Release(xt);
            }
            h.Backend.ForcedGemvVariant = null;
            h.Backend.Release(conv1d);
            p.Release(h);
        }
        h.AssertAll();
    }

    /// <summary>GPT-2-XL's c_attn and c_fc in decode: the backend's own choice of variant (FourRows), fused, against the reference and the composed path.</summary>
    [GpuTheory]
    [InlineData(4800, MatMulEpilogue.None)]
    [InlineData(6400, MatMulEpilogue.GeluNew)]
    public void Gpt2XlShapesFuseAndMatchTheComposedPath(int nOut, MatMulEpilogue epilogue)
    {
        const int k = 1600;
        using var h = Fusing();
        var rng = new Random(HashCode.Combine(nOut, 67));
        var p = Parameters.Draw(h, rng, KernelDType.F16, nOut, k);
        var conv1d = p.Conv1DStoredTransposed(h);
        foreach (int rows in new[] { 1, 4 })
        {
            var x = OffsetRows(rng, rows, k);
            var xt = h.Activation("x", x, rows, k);
            var product = p.Reference(NormKind.LayerNorm, true, true, x, rows);
            var norm = p.Norm(NormKind.LayerNorm, true);
            var fused = Run(h, rng, xt, x, norm, conv1d, WeightLayout.Conv1D, p.B, epilogue, product, null, fused: true, $"fused [{rows},{k}] -> {nOut}");
            h.Backend.FuseNormIntoGemv = false;
            var composed = Run(h, rng, xt, x, norm, conv1d, WeightLayout.Conv1D, p.B, epilogue, product, null, fused: false, $"composed [{rows},{k}] -> {nOut}");
            h.Backend.FuseNormIntoGemv = true;
            // Both within fp32 rounding of the reference, and of each other (only the norm's sum order differs).
            h.Check(fused, KernelData.ToDoubles(composed), MaxNmse, $"fused vs composed [{rows},{k}] -> {nOut}");
            h.Backend.Release(xt);
        }
        h.Backend.Release(conv1d);
        p.Release(h);
        h.AssertAll();
    }

    [GpuFact]
    public void WhatIsNotFusedIsComposedWithTheSameResult()
    {
        using var h = Fusing();
        var rng = new Random(71);
        var be = h.Backend;

        // More rows than the fused kernel takes (5: still a GEMV; 8: the last GEMV row count).
        var p = Parameters.Draw(h, rng, KernelDType.F16, 64, 1600);
        foreach (int rows in new[] { 5, 8 })
            Composed(h, rng, p, rows, NormKind.LayerNorm, p.W, WeightLayout.Linear, $"{rows} rows");
        // Conv1D memory as the file stores it ([k, nOut]): the Conv1D GEMV, after a separate norm.
        var conv1dAsStored = h.Weight("w.conv1d", KernelReference.Transpose(p.WValues, 64, 1600), KernelDType.F16, 1600, 64);
        Composed(h, rng, p, 2, NormKind.LayerNorm, conv1dAsStored, WeightLayout.Conv1D, "Conv1D memory");
        be.Release(conv1dAsStored);
        // A variant without a fused kernel, a forced non-GEMV path, fusion turned off.
        be.ForcedGemvVariant = CudaGemvVariant.TwoRows;
        Composed(h, rng, p, 3, NormKind.RmsNorm, p.W, WeightLayout.Linear, "TwoRows");
        be.ForcedGemvVariant = null;
        be.ForcedMatMulPath = CudaMatMulPath.Gemm;
        Composed(h, rng, p, 1, NormKind.LayerNorm, p.W, WeightLayout.Linear, "forced GEMM");
        be.ForcedMatMulPath = null;
        be.FuseNormIntoGemv = false;
        Composed(h, rng, p, 1, NormKind.RmsNorm, p.W, WeightLayout.Linear, "fusion off");
        be.FuseNormIntoGemv = true;
        p.Release(h);

        // Rows too long for the fused kernel's shared memory (48 KB of fp32 x).
        var wide = Parameters.Draw(h, rng, KernelDType.F32, 16, CudaBackend.NormGemvMaxSharedBytes / sizeof(float) + 4);
        Composed(h, rng, wide, 1, NormKind.LayerNorm, wide.W, WeightLayout.Linear, "long rows");
        wide.Release(h);

        // Norm weights of another type than the matrix (F32 norm, BF16 matrix).
        var mixed = Parameters.Draw(h, rng, KernelDType.BF16, 40, 96, normType: KernelDType.F32);
        Composed(h, rng, mixed, 2, NormKind.LayerNorm, mixed.W, WeightLayout.Linear, "F32 norm, BF16 matrix");
        mixed.Release(h);

        // The output is x (the residual stream: y = x + Norm(x)·Wᵀ): every fused block would read x while others write it.
        var square = Parameters.Draw(h, rng, KernelDType.F16, 96, 96);
        var x = OffsetRows(rng, 2, 96);
        var xt = h.Activation("x", x, 2, 96);
        var scratch = be.Allocate("scratch", TensorDType.F32, 2, 96);
        long before = be.Launches;
        be.NormMatMul(xt, square.Norm(NormKind.LayerNorm, true), scratch, square.W, WeightLayout.Linear, square.B, xt, MatMulEpilogue.Accumulate);
        if (be.Launches - before < 2) h.Fail($"output = x: {be.Launches - before} launch(es); the norm must run before the product overwrites x");
        var expected = square.Reference(NormKind.LayerNorm, true, true, x, 2).Zip(x, (s, r) => s + r).ToArray();
        h.Check(h.Download(xt), expected, MaxNmse, "output = x, accumulate");
        be.Release(scratch);
        be.Release(xt);
        square.Release(h);
        h.AssertAll();
    }

    [GpuFact]
    public void BadOperandsAreRejectedInNormMatMulsName()
    {
        using var h = Fusing();
        var rng = new Random(73);
        var p = Parameters.Draw(h, rng, KernelDType.F16, 8, 16);
        var xt = h.Activation("x", OffsetRows(rng, 2, 16), 2, 16);
        var scratch = h.Backend.Allocate("scratch", TensorDType.F32, 2, 16);
        var y = h.Backend.Allocate("y", TensorDType.F32, 2, 8);
        var shortNorm = h.Weight("norm.short", KernelData.Uniform(rng, 15, 1, KernelDType.F16), KernelDType.F16, 15);
        var e = Assert.Throws<NnlArgumentException>(() => h.Backend.NormMatMul(xt, RowNorm.Rms(shortNorm, 1e-6f), scratch, p.W, WeightLayout.Linear, null, y));
        Assert.Contains("NormMatMul", e.Message);
        Assert.Contains("norm.short", e.Message);
        var narrow = h.Backend.Allocate("scratch.narrow", TensorDType.F32, 2, 12);
        e = Assert.Throws<NnlArgumentException>(() => h.Backend.NormMatMul(xt, p.Norm(NormKind.LayerNorm, true), narrow, p.W, WeightLayout.Linear, null, y));
        Assert.Contains("scratch.narrow", e.Message);
        e = Assert.Throws<NnlArgumentException>(() => h.Backend.NormMatMul(xt, p.Norm(NormKind.LayerNorm, true), scratch, p.W, WeightLayout.Conv1D, null, y));
        Assert.Contains("NormMatMul", e.Message);
        e = Assert.Throws<NnlArgumentException>(() => h.Backend.NormMatMul(xt, p.Norm(NormKind.LayerNorm, true), scratch, p.W, WeightLayout.Linear, null, scratch));
        Assert.Contains("normOutput", e.Message);
        Assert.Throws<NnlArgumentException>(() =>
            h.Backend.NormMatMul(xt, new RowNorm(NormKind.RmsNorm, p.Gamma, p.Beta, 1e-6f), scratch, p.W, WeightLayout.Linear, null, y));
    }

    // ------------------------------------------------------------------ helpers

    /// <summary>Uniform rows with an offset mean, so a LayerNorm that skips the mean cannot pass.</summary>
    internal static double[] OffsetRows(Random rng, int rows, int k) =>
        KernelData.Uniform(rng, rows * k, 3).Select(v => (double)(float)(v + 0.75)).ToArray();

    internal static float Eps(NormKind kind) => kind == NormKind.LayerNorm ? 1e-5f : 1e-6f;

    /// <summary>
    /// One NormMatMul into a fresh output (the residual for Accumulate, noise otherwise) and a scratch
    /// of noise, checked against the reference; a fused call must be one launch that writes neither x
    /// nor the scratch, a composed one at least two. Returns the output.
    /// </summary>
    private static float[] Run(GpuHarness h, Random rng, BackendTensor xt, double[] x, RowNorm norm, BackendTensor weight, WeightLayout layout,
        BackendTensor? bias, MatMulEpilogue epilogue, double[] product, double[]? residual, bool fused, string what)
    {
        var call = Call(h, rng, xt, x, norm, weight, layout, bias, epilogue, product, residual, what);
        if (fused && call.Launches != 1) h.Fail($"{what}: {call.Launches} launches, the fused kernel is one");
        if (!fused && call.Launches < 2) h.Fail($"{what}: {call.Launches} launch(es), the composed path is the norm and the product");
        if (fused && !call.NormOutputKept) h.Fail($"{what}: the fused kernel wrote normOutput");
        return call.Output;
    }

    /// <summary>
    /// One NormMatMul into a fresh output (the residual for Accumulate, noise otherwise) and a scratch
    /// normOutput of noise, checked against the reference, x checked unchanged; returns the output,
    /// the launches it took and whether normOutput still holds its noise (the callers say which it must).
    /// </summary>
    internal static (float[] Output, long Launches, bool NormOutputKept) Call(GpuHarness h, Random rng, BackendTensor xt, double[] x, RowNorm norm,
        BackendTensor weight, WeightLayout layout, BackendTensor? bias, MatMulEpilogue epilogue, double[] product, double[]? residual, string what)
    {
        var be = h.Backend;
        int rows = (int)xt.Rows, k = (int)xt.Columns, nOut = product.Length / rows;
        residual ??= KernelData.Uniform(rng, rows * nOut, 1);
        var y = h.Activation("y", epilogue == MatMulEpilogue.Accumulate ? residual : KernelData.Uniform(rng, rows * nOut, 100), rows, nOut);
        var noise = KernelData.ToFloats(KernelData.Uniform(rng, rows * k, 100));
        var scratch = be.Allocate("scratch", TensorDType.F32, rows, k);
        be.Upload(scratch, noise);
        long before = be.Launches;
        be.NormMatMul(xt, norm, scratch, weight, layout, bias, y, epilogue);
        long launches = be.Launches - before;
        var expected = epilogue switch
        {
            MatMulEpilogue.Accumulate => product.Zip(residual, (s, r) => s + r).ToArray(),
            MatMulEpilogue.GeluNew => KernelReference.Map(product, KernelReference.GeluNew),
            _ => product,
        };
        var output = h.Download(y);
        h.Check(output, expected, MaxNmse, what, normFloor: epilogue == MatMulEpilogue.GeluNew ? rows * nOut : 0);
        bool kept = h.Download(scratch).SequenceEqual(noise);
        if (!h.Download(xt).SequenceEqual(KernelData.ToFloats(x))) h.Fail($"{what}: x changed");
        be.Release(scratch);
        be.Release(y);
        return (output, launches, kept);
    }

    /// <summary>A case NormMatMul composes: every epilogue, with the product's bias, against the reference.</summary>
    private static void Composed(GpuHarness h, Random rng, Parameters p, int rows, NormKind kind, BackendTensor weight, WeightLayout layout, string what)
    {
        var x = OffsetRows(rng, rows, p.K);
        var xt = h.Activation("x", x, rows, p.K);
        bool normBias = kind == NormKind.LayerNorm;
        var product = p.Reference(kind, normBias, true, x, rows);
        foreach (var epilogue in Enum.GetValues<MatMulEpilogue>())
            Run(h, rng, xt, x, p.Norm(kind, normBias), weight, layout, p.B, epilogue, product, null, fused: false, $"{what}: {kind} {epilogue}");
        h.Backend.Release(xt);
    }

    /// <summary>A matrix [nOut, k] (nn.Linear), its bias and a norm's weight and bias, as values and as tensors.</summary>
    internal sealed record Parameters(int NOut, int K, double[] WValues, double[] BValues, double[] GammaValues, double[] BetaValues,
        BackendTensor W, BackendTensor B, BackendTensor Gamma, BackendTensor Beta, KernelDType Type)
    {
        public static Parameters Draw(GpuHarness h, Random rng, KernelDType type, int nOut, int k, KernelDType? normType = null)
        {
            var nt = normType ?? type;
            var w = KernelData.Uniform(rng, nOut * k, 1, type);
            var b = KernelData.Uniform(rng, nOut, 1, type);
            var gamma = KernelData.Uniform(rng, k, 1.5, nt);
            var beta = KernelData.Uniform(rng, k, 0.5, nt);
            return new Parameters(nOut, k, w, b, gamma, beta,
                h.Weight("w", w, type, nOut, k), h.Weight("b", b, type, nOut), h.Weight("norm.w", gamma, nt, k), h.Weight("norm.b", beta, nt, k), type);
        }

        public RowNorm Norm(NormKind kind, bool withBias) =>
            kind == NormKind.LayerNorm ? RowNorm.Layer(Gamma, withBias ? Beta : null, Eps(kind)) : RowNorm.Rms(Gamma, Eps(kind));

        /// <summary>Norm(x)·Wᵀ (+ bias) in float64.</summary>
        public double[] Reference(NormKind kind, bool normBias, bool withBias, double[] x, int rows)
        {
            var normed = kind == NormKind.LayerNorm
                ? KernelReference.LayerNorm(x, rows, K, GammaValues, normBias ? BetaValues : null, Eps(kind))
                : KernelReference.RmsNorm(x, rows, K, GammaValues, Eps(kind));
            return KernelReference.Linear(normed, rows, K, WValues, NOut, withBias ? BValues : null, null);
        }

        /// <summary>The matrix as a Conv1D weight [k, nOut] stored transposed (the resident GPT-2 loader's memory): release it before <see cref="W"/>.</summary>
        public BackendTensor Conv1DStoredTransposed(GpuHarness h) => h.Backend.WrapDeviceMemory(
            new TensorInfo("w.conv1d.transposed", GpuHarness.ToTensorDType(Type), [K, NOut], "test", 0, W.ByteCount), ((CudaTensor)W).Pointer, transposed: true);

        public void Release(GpuHarness h)
        {
            foreach (var t in new[] { W, B, Gamma, Beta }) h.Backend.Release(t);
        }
    }
}
