using Nnl.Engine.Models;
using Nnl.Engine.Runtime;
using Nnl.Engine.Runtime.Cuda;

namespace Nnl.Engine.Tests.Kernels;

/// <summary>
/// The one-token GEMV that holds x in registers (kernels/gemv_xreg.cu): GPT-2-XL's shapes (one
/// slice and eight), shapes that leave warps, lanes or whole blocks without rows, fp16, bf16 and
/// fp32, every epilogue, with and without bias, against float64; what it cannot read falls back;
/// and a chain of products in a graph step, each reading what the one before wrote (on sm_90
/// through programmatic edges: each requests its first weights before the one before finishes and
/// must still read x only after it; the norms fold into their products).
/// </summary>
[Trait("Category", "Gpu")]
[Collection("Gpu")]
public class CudaRegisterGemvTests
{
    // As CudaMatMulTests: fp32 accumulation over k up to 6400.
    private const double MaxNmse = 1e-9;

    /// <summary>
    /// (nOut, k): GPT-2-XL's c_attn, MLP down projection (eight slices) and attention output; fewer
    /// rows than a block has warps; more rows than the grid has warps; a row of fewer vectors than a
    /// warp has lanes (k = 64); a row of one vector; the most slices (k = 8192 in 16 bits, 16 in fp32);
    /// four slices of two warps (k = 3200).
    /// </summary>
    public static TheoryData<int, int> Shapes => new() { { 4800, 1600 }, { 1600, 6400 }, { 1600, 1600 }, { 5, 1600 }, { 4229, 64 }, { 300, 8 }, { 70, 8192 }, { 130, 3200 } };

    [GpuTheory]
    [MemberData(nameof(Shapes))]
    public void TheRegisterKernelMatchesTheReference(int nOut, int k)
    {
        using var h = new GpuHarness();
        var be = h.Backend;
        be.ForcedGemvVariant = CudaGemvVariant.InputInRegisters;
        var rng = new Random(HashCode.Combine(nOut, k, 113));
        var x = KernelData.Uniform(rng, k, 1);
        var xt = h.Activation("x", x, 1, k);
        var residual = KernelData.Uniform(rng, nOut, 1);
        foreach (var type in GpuHarness.AllTypes)
        {
            var w = KernelData.Uniform(rng, nOut * k, 1, type);
            var bias = KernelData.Uniform(rng, nOut, 1, type);
            var wt = h.Weight("w", w, type, nOut, k);
            var bt = h.Weight("b", bias, type, nOut);
            // fp32 rows of 8192 are 16 slices, more than a block holds: the fallback (checked, not counted).
            bool fits = k / (type == KernelDType.F32 ? 4 : 8) <= 8 * 128;
            foreach (bool withBias in new[] { false, true })
                foreach (var epilogue in Enum.GetValues<MatMulEpilogue>())
                {
                    var expected = epilogue switch
                    {
                        MatMulEpilogue.Accumulate => KernelReference.Linear(x, 1, k, w, nOut, withBias ? bias : null, residual),
                        MatMulEpilogue.GeluNew => KernelReference.Map(KernelReference.Linear(x, 1, k, w, nOut, withBias ? bias : null, null), KernelReference.GeluNew),
                        _ => KernelReference.Linear(x, 1, k, w, nOut, withBias ? bias : null, null),
                    };
                    var y = h.Activation("y", epilogue == MatMulEpilogue.Accumulate ? residual : KernelData.Uniform(rng, nOut, 100), 1, nOut);
                    long before = be.RegisterGemvLaunches;
                    be.MatMul(xt, wt, WeightLayout.Linear, withBias ? bt : null, y, epilogue);
                    string what = $"{type} bias={withBias} {epilogue} [1,{k}] -> [1,{nOut}]";
                    if (be.RegisterGemvLaunches - before != (fits ? 1 : 0))
                        h.Fail($"{what}: {be.RegisterGemvLaunches - before} register launches, {(fits ? 1 : 0)} expected");
                    h.Check(h.Download(y), expected, MaxNmse, what, normFloor: epilogue == MatMulEpilogue.GeluNew ? nOut : 0);
                    be.Release(y);
                }
            be.Release(wt);
            be.Release(bt);
        }
        be.Release(xt);
        h.AssertAll();
    }

    /// <summary>More than one token, an odd k, an unaligned input: the product falls back to OneRow with the same result.</summary>
    [GpuFact]
    public void WhatTheRegisterKernelCannotReadFallsBack()
    {
        using var h = new GpuHarness();
        var be = h.Backend;
        var rng = new Random(127);
        foreach (var (rows, k, offset) in new[] { (2, 1600, 0), (1, 203, 0), (1, 1600, 1) })
        {
            const int nOut = 70;
            var w = KernelData.Uniform(rng, nOut * k, 1, KernelDType.F16);
            var wt = h.Weight("w", w, KernelDType.F16, nOut, k);
            var x = KernelData.Uniform(rng, rows * k + offset, 1);
            var whole = h.Activation("x", x, 1, rows * k + offset);
            // offset 1: the input starts 4 bytes into an allocation, so it is not 16-byte aligned.
            var xt = be.WrapDeviceMemory(new TensorInfo("x.view", TensorDType.F32, [rows, k], "test", 0, (long)rows * k * 4),
                ((CudaTensor)whole).Pointer + (ulong)(offset * 4));
            var y = be.Allocate("y", TensorDType.F32, rows, nOut);
            be.ForcedGemvVariant = CudaGemvVariant.InputInRegisters;
            long before = be.RegisterGemvLaunches;
            be.MatMul(xt, wt, WeightLayout.Linear, null, y);
            be.ForcedGemvVariant = null;
            string what = $"rows {rows}, k {k}, input offset {offset * 4} bytes";
            if (be.RegisterGemvLaunches != before) h.Fail($"{what}: the register kernel ran");
            h.Check(h.Download(y), KernelReference.Linear(x.Skip(offset).ToArray(), rows, k, w, nOut, null, null), MaxNmse, what);
            foreach (var t in new[] { y, xt, whole, wt }) be.Release(t);
        }
        h.AssertAll();
    }

    /// <summary>
    /// A layer's MLP and a product of its output in one graph step (LayerNorm, up with gelu_new, down
    /// added into x, LayerNorm, a product of the new x), replayed for three fresh inputs, against float64.
    /// </summary>
    [GpuFact]
    public void AChainOfRegisterProductsInAGraphStepMatchesTheReference()
    {
        using var h = new GpuHarness();
        var be = h.Backend;
        be.ForcedGemvVariant = CudaGemvVariant.InputInRegisters;
        var rng = new Random(131);
        const int hidden = 1600, inner = 6400, outputs = 300;
        var type = KernelDType.F16;
        var up = KernelData.Uniform(rng, inner * hidden, 1 / Math.Sqrt(hidden), type);
        var down = KernelData.Uniform(rng, hidden * inner, 1 / Math.Sqrt(inner), type);
        var head = KernelData.Uniform(rng, outputs * hidden, 1 / Math.Sqrt(hidden), type);
        var gamma = KernelData.Uniform(rng, hidden, 1.5, type);
        var beta = KernelData.Uniform(rng, hidden, 0.5, type);
        var upT = h.Weight("up", up, type, inner, hidden);
        var downT = h.Weight("down", down, type, hidden, inner);
        var headT = h.Weight("head", head, type, outputs, hidden);
        var norm = RowNorm.Layer(h.Weight("norm.w", gamma, type, hidden), h.Weight("norm.b", beta, type, hidden), 1e-5f);
        var xt = be.Allocate("x", TensorDType.F32, 1, hidden);
        var normed = be.Allocate("normed", TensorDType.F32, 1, hidden);
        var u = be.Allocate("u", TensorDType.F32, 1, inner);
        var logits = be.Allocate("logits", TensorDType.F32, 1, outputs);
        for (int step = 0; step < 3; step++)
        {
            var x = KernelData.Uniform(rng, hidden, 1);
            var ur = KernelReference.Map(KernelReference.Linear(KernelReference.LayerNorm(x, 1, hidden, gamma, beta, 1e-5), 1, hidden, up, inner, null, null), KernelReference.GeluNew);
            var x2 = KernelReference.Linear(ur, 1, inner, down, hidden, null, x);
            var expected = KernelReference.Linear(KernelReference.LayerNorm(x2, 1, hidden, gamma, beta, 1e-5), 1, hidden, head, outputs, null, null);
            be.Upload(xt, KernelData.ToFloats(x));
            long before = be.RegisterGemvLaunches, folds = be.FoldedNorms;
            be.BeginGraphStep();
            be.NormMatMul(xt, norm, normed, upT, WeightLayout.Linear, null, u, MatMulEpilogue.GeluNew);
            be.MatMul(u, downT, WeightLayout.Linear, null, xt, MatMulEpilogue.Accumulate);
            be.NormMatMul(xt, norm, normed, headT, WeightLayout.Linear, null, logits);
            be.EndGraphStep();
            if (be.RegisterGemvLaunches != before + 3) h.Fail($"step {step}: {be.RegisterGemvLaunches - before} register launches of 3");
            // Constant weights (CreateWeight): both norms fold into their products (CudaNormFoldTests).
            if (be.FoldedNorms != folds + 2) h.Fail($"step {step}: {be.FoldedNorms - folds} folded norms of 2");
            h.Check(h.Download(xt), x2, MaxNmse, $"step {step}: x after the MLP");
            h.Check(h.Download(logits), expected, MaxNmse, $"step {step}: the product of the new x");
        }
        var stats = be.GraphStatistics;
        if (stats.Replays != 3 || stats.Fallbacks != 0) h.Fail($"graph steps: {stats}");
        foreach (var t in new[] { upT, downT, headT, norm.Weight, norm.Bias!, xt, normed, u, logits }) be.Release(t);
        h.AssertAll();
    }
}
