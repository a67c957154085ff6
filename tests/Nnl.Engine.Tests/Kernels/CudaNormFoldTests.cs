using Nnl.Engine.Models;
using Nnl.Engine.Runtime;
using Nnl.Engine.Runtime.Cuda;
using Parameters = Nnl.Engine.Tests.Kernels.CudaNormMatMulTests.Parameters;

namespace Nnl.Engine.Tests.Kernels;

/// <summary>
/// A one-token NormMatMul with the norm folded into the register GEMV (kernels/gemv_xreg.cu,
/// nnl_xr_fold; CudaBackend.NormFold.cs) against the float64 reference of the norm then the product:
/// one slice, two (GPT-2-XL's k) and eight (6400 and 8192 wide); fewer rows than a block has warps; fp16, bf16 and
/// fp32; LayerNorm with and without its bias and RMSNorm; with and without the product's bias; every
/// epilogue. The weights' constants are computed once (a second call is one launch) and go with the
/// weights: a released weight's memory taken by another, or an upload into a weight, is folded afresh.
/// Weights not declared constant are composed. The chain in a graph step is CudaRegisterGemvTests'.
/// </summary>
[Trait("Category", "Gpu")]
[Collection("Gpu")]
public class CudaNormFoldTests
{
    private static readonly (NormKind Kind, bool Bias)[] Norms =
        [(NormKind.LayerNorm, true), (NormKind.LayerNorm, false), (NormKind.RmsNorm, false)];

    /// <summary>(nOut, k): GPT-2-XL's c_attn (two slices) and MLP down projection (eight); one slice (k = 768, GPT-2's); fewer rows than warps; eight slices.</summary>
    public static TheoryData<int, int> Shapes => new() { { 4800, 1600 }, { 1600, 6400 }, { 300, 768 }, { 5, 1600 }, { 70, 8192 } };

    [GpuTheory]
    [MemberData(nameof(Shapes))]
    public void TheFoldedProductMatchesTheReference(int nOut, int k)
    {
        using var h = new GpuHarness();
        var be = h.Backend;
        var rng = new Random(HashCode.Combine(nOut, k, 211));
        foreach (var type in GpuHarness.AllTypes)
        {
            // fp32 rows of 8192 are 16 slices, more than the register GEMV holds: composed (checked, not counted).
            bool fits = k / (type == KernelDType.F32 ? 4 : 8) <= 8 * 128;
            var p = Parameters.Draw(h, rng, type, nOut, k);
            var x = CudaNormMatMulTests.OffsetRows(rng, 1, k);
            var xt = h.Activation("x", x, 1, k);
            var residual = KernelData.Uniform(rng, nOut, 1);
            // The constants belong to (weight, γ, β, bias): RMSNorm shares a LayerNorm without β's.
            var made = new HashSet<(bool Beta, bool Bias)>();
            foreach (var (kind, normBias) in Norms)
                foreach (bool withBias in new[] { false, true })
                {
                    var product = p.Reference(kind, normBias, withBias, x, 1);
                    foreach (var epilogue in Enum.GetValues<MatMulEpilogue>())
                        for (int call = 0; call < 2; call++)
                            Run(h, rng, xt, x, p.Norm(kind, normBias), p.W, withBias ? p.B : null, epilogue, product, residual,
                                folded: fits, firstCall: made.Add((normBias, withBias)),
                                $"{type} {kind} normBias={normBias} bias={withBias} {epilogue} call {call + 1} x[1,{k}] -> [1,{nOut}]");
                }
            be.Release(xt);
            p.Release(h);
        }
        h.AssertAll();
    }

    [GpuFact]
    public void OnlyConstantWeightsAreFolded()
    {
        using var h = new GpuHarness();
        var be = h.Backend;
        var rng = new Random(223);
        var p = Parameters.Draw(h, rng, KernelDType.F16, 96, 1600);
        var x = CudaNormMatMulTests.OffsetRows(rng, 1, 1600);
        var xt = h.Activation("x", x, 1, 1600);
        var norm = p.Norm(NormKind.LayerNorm, true);
        var product = p.Reference(NormKind.LayerNorm, true, true, x, 1);
        // The same memory wrapped (as streamed weights are): it may change, so it is composed.
        var wrapped = be.WrapDeviceMemory(new TensorInfo("w.wrapped", TensorDType.F16, [96, 1600], "test", 0, p.W.ByteCount), ((CudaTensor)p.W).Pointer);
        Run(h, rng, xt, x, norm, wrapped, p.B, MatMulEpilogue.None, product, null, folded: false, firstCall: false, "wrapped, not declared");
        be.DeclareConstant(wrapped);
        Run(h, rng, xt, x, norm, wrapped, p.B, MatMulEpilogue.None, product, null, folded: true, firstCall: true, "wrapped, declared constant");
        // Turned off, or a forced variant other than the register GEMV: composed.
        be.FoldNormIntoProduct = false;
        Run(h, rng, xt, x, norm, p.W, p.B, MatMulEpilogue.None, product, null, folded: false, firstCall: false, "fold off");
        be.FoldNormIntoProduct = true;
        be.ForcedGemvVariant = CudaGemvVariant.OneRow;
        Run(h, rng, xt, x, norm, p.W, p.B, MatMulEpilogue.None, product, null, folded: false, firstCall: false, "OneRow forced");
        be.ForcedGemvVariant = null;
        be.Release(wrapped);
        be.Release(xt);
        p.Release(h);
        h.AssertAll();
    }

    [GpuFact]
    public void ConstantsGoWithTheirWeights()
    {
        using var h = new GpuHarness();
        var be = h.Backend;
        var rng = new Random(227);
        const int nOut = 640, k = 1600;
        var x = CudaNormMatMulTests.OffsetRows(rng, 1, k);
        var xt = h.Activation("x", x, 1, k);
        // A weight released and another of the same size made: the pool may give it the same address.
        for (int round = 0; round < 3; round++)
        {
            var p = Parameters.Draw(h, rng, KernelDType.BF16, nOut, k);
            Run(h, rng, xt, x, p.Norm(NormKind.RmsNorm, false), p.W, null, MatMulEpilogue.None, p.Reference(NormKind.RmsNorm, false, false, x, 1), null,
                folded: true, firstCall: true, $"weights of round {round + 1}");
            p.Release(h);
        }
        // An fp32 weight uploaded into after its constants were made: folded afresh from the new values.
        var f32 = Parameters.Draw(h, rng, KernelDType.F32, nOut, k);
        var norm = f32.Norm(NormKind.LayerNorm, true);
        Run(h, rng, xt, x, norm, f32.W, f32.B, MatMulEpilogue.None, f32.Reference(NormKind.LayerNorm, true, true, x, 1), null,
            folded: true, firstCall: true, "fp32 weight");
        var replaced = KernelData.Uniform(rng, nOut * k, 1);
        be.Upload(f32.W, KernelData.ToFloats(replaced));
        var expected = KernelReference.Linear(KernelReference.LayerNorm(x, 1, k, f32.GammaValues, f32.BetaValues, CudaNormMatMulTests.Eps(NormKind.LayerNorm)),
            1, k, replaced, nOut, f32.BValues, null);
        Run(h, rng, xt, x, norm, f32.W, f32.B, MatMulEpilogue.None, expected, null, folded: false, firstCall: false, "fp32 weight after an upload (no longer constant)");
        be.DeclareConstant(f32.W);
        Run(h, rng, xt, x, norm, f32.W, f32.B, MatMulEpilogue.None, expected, null, folded: true, firstCall: true, "fp32 weight after an upload, declared again");
        f32.Release(h);
        be.Release(xt);
        h.AssertAll();
    }

    /// <summary>
    /// One NormMatMul (CudaNormMatMulTests.Call: a fresh output, a scratch normOutput of noise, checked
    /// against the reference, x unchanged); folded: one launch of the fold (two on a product's first
    /// call, its constants first), normOutput untouched; else composed (at least the norm and the product).
    /// </summary>
    private static void Run(GpuHarness h, Random rng, BackendTensor xt, double[] x, RowNorm norm, BackendTensor weight, BackendTensor? bias,
        MatMulEpilogue epilogue, double[] product, double[]? residual, bool folded, bool firstCall, string what)
    {
        long folds = h.Backend.FoldedNorms;
        var call = CudaNormMatMulTests.Call(h, rng, xt, x, norm, weight, WeightLayout.Linear, bias, epilogue, product, residual, what);
        folds = h.Backend.FoldedNorms - folds;
        if (folds != (folded ? 1 : 0)) h.Fail($"{what}: {folds} folds, {(folded ? 1 : 0)} expected");
        if (folded && call.Launches != (firstCall ? 2 : 1)) h.Fail($"{what}: {call.Launches} launches, {(firstCall ? 2 : 1)} expected");
        if (!folded && call.Launches < 2) h.Fail($"{what}: {call.Launches} launch(es), the composed path is the norm and the product");
        if (folded && !call.NormOutputKept) h.Fail($"{what}: the fold wrote normOutput");
    }
}
