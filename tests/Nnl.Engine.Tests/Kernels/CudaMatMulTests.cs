using Nnl.Engine.Models;
using Nnl.Engine.Runtime;
using Nnl.Engine.Runtime.Cuda;

namespace Nnl.Engine.Tests.Kernels;

/// <summary>
/// Every matrix-product path (GEMV with each nn.Linear variant, Conv1D GEMV, tiled GEMM, cuBLAS) ×
/// both weight layouts × fp16/bf16/fp32 × with and without bias × every epilogue (store, accumulate
/// into a random residual, gelu_new), against the float64 reference on the same rounded weights.
/// </summary>
[Trait("Category", "Gpu")]
[Collection("Gpu")]
public class CudaMatMulTests
{
    // fp32 accumulation over k up to 6400: relative error ~ sqrt(k)·2^-24 per output.
    private const double MaxNmse = 1e-9;

    [GpuTheory]
    [MemberData(nameof(KernelShapes.Gemv), MemberType = typeof(KernelShapes))]
    public void DecodeShapesMatchTheReferenceOnEveryPath(int nOut, int k, int nTok) => Run(nOut, k, nTok);

    [GpuTheory]
    [MemberData(nameof(KernelShapes.Gemm), MemberType = typeof(KernelShapes))]
    public void PrefillShapesMatchTheReferenceOnEveryPath(int m, int n, int k) => Run(n, k, m);

    private static void Run(int nOut, int k, int rows)
    {
        using var h = new GpuHarness();
        var rng = new Random(HashCode.Combine(nOut, k, rows, 17));
        var x = KernelData.Uniform(rng, rows * k, 1);
        var xt = h.Activation("x", x, rows, k);
        var residual = KernelData.Uniform(rng, rows * nOut, 1);
        foreach (var type in GpuHarness.AllTypes)
        {
            var w = KernelData.Uniform(rng, nOut * k, 1, type);
            var bias = KernelData.Uniform(rng, nOut, 1, type);
            var linear = h.Weight("w", w, type, nOut, k);
            var conv1d = h.Weight("w.conv1d", KernelReference.Transpose(w, nOut, k), type, k, nOut);
            var biasTensor = h.Weight("b", bias, type, nOut);
            // A Conv1D [k, nOut] weight the offload loader stored transposed (nn.Linear's memory): read by the Linear kernels.
            var conv1dTransposed = h.Backend.WrapDeviceMemory(
                new TensorInfo("w.conv1d.transposed", GpuHarness.ToTensorDType(type), [k, nOut], "test", 0, linear.ByteCount), ((CudaTensor)linear).Pointer, transposed: true);
            double[] Reference(bool withBias, MatMulEpilogue epilogue) => epilogue switch
            {
                MatMulEpilogue.Accumulate => KernelReference.Linear(x, rows, k, w, nOut, withBias ? bias : null, residual),
                MatMulEpilogue.GeluNew => KernelReference.Map(KernelReference.Linear(x, rows, k, w, nOut, withBias ? bias : null, null), KernelReference.GeluNew),
                _ => KernelReference.Linear(x, rows, k, w, nOut, withBias ? bias : null, null),
            };
            // Every path; the GEMV path with each of its nn.Linear variants (rows per warp, loads in flight).
            var runs = Enum.GetValues<CudaMatMulPath>().SelectMany(p => p == CudaMatMulPath.Gemv
                ? Enum.GetValues<CudaGemvVariant>().Select(v => (Path: p, Variant: (CudaGemvVariant?)v))
                : [(p, null)]);
            foreach (var (path, variant) in runs)
            {
                if (path == CudaMatMulPath.Cublas && !h.Backend.UsesCublas) continue;
                h.Backend.ForcedMatMulPath = path;
                h.Backend.ForcedGemvVariant = variant;
                foreach (var (layout, weight) in new[] { (WeightLayout.Linear, linear), (WeightLayout.Conv1D, conv1d), (WeightLayout.Conv1D, conv1dTransposed) })
                    foreach (bool withBias in new[] { false, true })
                        foreach (var epilogue in Enum.GetValues<MatMulEpilogue>())
                        {
                            // Accumulate adds into what y holds (the residual); the others must overwrite it.
                            var y = h.Activation("y", epilogue == MatMulEpilogue.Accumulate ? residual : KernelData.Uniform(rng, rows * nOut, 100), rows, nOut);
                            h.Backend.MatMul(xt, weight, layout, withBias ? biasTensor : null, y, epilogue);
                            // gelu_new squashes negative sums towards 0, so a few outputs can have a norm far
                            // below the scale (about 1 per element) at which the product itself is accurate:
                            // there the error is measured against that scale (cuBLAS's bf16 hi + lo path, one
                            // [1, 6400] -> [1, 3] draw: 1.3e-5 off on outputs of -0.047, NMSE 7.6e-8 by their norm).
                            h.Check(h.Download(y), Reference(withBias, epilogue), MaxNmse,
                                $"{path} {variant} {weight.Name} {layout} {type} bias={withBias} {epilogue} x[{rows},{k}] -> [{rows},{nOut}]",
                                normFloor: epilogue == MatMulEpilogue.GeluNew ? rows * nOut : 0);
                            h.Backend.Release(y);
                        }
            }
            h.Backend.ForcedGemvVariant = null;
            h.Backend.Release(conv1dTransposed);
            h.Backend.Release(linear);
            h.Backend.Release(conv1d);
            h.Backend.Release(biasTensor);
        }
        h.AssertAll();
    }

    [GpuFact]
    public void ABiasOfAnotherTypeThanTheWeightIsAddedSeparately()
    {
        using var h = new GpuHarness();
        var rng = new Random(23);
        int rows = 3, k = 40, n = 19;
        var x = KernelData.Uniform(rng, rows * k, 1);
        var w = KernelData.Uniform(rng, n * k, 1, KernelDType.F16);
        var bias = KernelData.Uniform(rng, n, 1, KernelDType.F32);
        var xt = h.Activation("x", x, rows, k);
        var wt = h.Weight("w", w, KernelDType.F16, n, k);
        var bt = h.Weight("b", bias, KernelDType.F32, n);
        var residual = KernelData.Uniform(rng, rows * n, 1);
        var plain = KernelReference.Linear(x, rows, k, w, n, bias, null);
        foreach (var path in new[] { CudaMatMulPath.Gemv, CudaMatMulPath.Gemm })
        {
            h.Backend.ForcedMatMulPath = path;
            var y = h.Backend.Allocate("y", TensorDType.F32, rows, n);
            h.Backend.MatMul(xt, wt, WeightLayout.Linear, bt, y);
            h.Check(h.Download(y), plain, MaxNmse, $"{path} F16 weight + F32 bias");
            // The separate bias comes before gelu and after the accumulated product.
            h.Backend.MatMul(xt, wt, WeightLayout.Linear, bt, y, MatMulEpilogue.GeluNew);
            h.Check(h.Download(y), KernelReference.Map(plain, KernelReference.GeluNew), MaxNmse, $"{path} F16 weight + F32 bias, gelu_new");
            h.Backend.Upload(y, KernelData.ToFloats(residual));
            h.Backend.MatMul(xt, wt, WeightLayout.Linear, bt, y, MatMulEpilogue.Accumulate);
            h.Check(h.Download(y), KernelReference.Linear(x, rows, k, w, n, bias, residual), MaxNmse, $"{path} F16 weight + F32 bias, accumulate");
        }
        h.AssertAll();
    }

    [GpuFact]
    public void MisShapedWeightsAreRejectedWithTheShapes()
    {
        using var h = new GpuHarness();
        var rng = new Random(29);
        var xt = h.Activation("x", KernelData.Uniform(rng, 2 * 8, 1), 2, 8);
        var wt = h.Weight("blk.0.w", KernelData.Uniform(rng, 8 * 5, 1, KernelDType.F16), KernelDType.F16, 8, 5);
        var y = h.Backend.Allocate("y", TensorDType.F32, 2, 5);
        var e = Assert.Throws<NnlArgumentException>(() => h.Backend.MatMul(xt, wt, WeightLayout.Linear, null, y));
        Assert.Contains("blk.0.w", e.Message);
        h.Backend.MatMul(xt, wt, WeightLayout.Conv1D, null, y); // [in, out] = [8, 5] is right for Conv1D
        // Accumulating needs an output of the product's shape too (it is the addend).
        var narrow = h.Backend.Allocate("residual", TensorDType.F32, 2, 4);
        e = Assert.Throws<NnlArgumentException>(() => h.Backend.MatMul(xt, wt, WeightLayout.Conv1D, null, narrow, MatMulEpilogue.Accumulate));
        Assert.Contains("residual", e.Message);
        // A column view is no MatMul operand.
        var wide = h.Backend.Allocate("wide", TensorDType.F32, 2, 16);
        var view = h.Backend.ColumnView(wide, 8, 8);
        e = Assert.Throws<NnlArgumentException>(() => h.Backend.MatMul(view, wt, WeightLayout.Conv1D, null, y));
        Assert.Contains("column view", e.Message);
        e = Assert.Throws<NnlArgumentException>(() => h.Backend.MatMul(xt, wt, WeightLayout.Conv1D, null, h.Backend.ColumnView(wide, 3, 5)));
        Assert.Contains("column view", e.Message);
    }
}
