using Nnl.Engine.Models;
using Nnl.Engine.Runtime;
using Nnl.Engine.Runtime.Cuda;

namespace Nnl.Engine.Tests.Kernels;

/// <summary>
/// Every matrix-product path (GEMV, tiled GEMM, cuBLAS) × both weight layouts × fp16/bf16/fp32 ×
/// with and without bias, against the float64 reference on the same rounded weights.
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
        foreach (var type in GpuHarness.AllTypes)
        {
            var w = KernelData.Uniform(rng, nOut * k, 1, type);
            var bias = KernelData.Uniform(rng, nOut, 1, type);
            var linear = h.Weight("w", w, type, nOut, k);
            var conv1d = h.Weight("w.conv1d", KernelReference.Transpose(w, nOut, k), type, k, nOut);
            var biasTensor = h.Weight("b", bias, type, nOut);
            var refPlain = KernelReference.Linear(x, rows, k, w, nOut, null, null);
            var refBias = KernelReference.Linear(x, rows, k, w, nOut, bias, null);
            // Every path; the GEMV path with each of its nn.Linear variants (rows per warp, loads in flight).
            var runs = Enum.GetValues<CudaMatMulPath>().SelectMany(p => p == CudaMatMulPath.Gemv
                ? Enum.GetValues<CudaGemvVariant>().Select(v => (Path: p, Variant: (CudaGemvVariant?)v))
                : [(p, null)]);
            foreach (var (path, variant) in runs)
            {
                if (path == CudaMatMulPath.Cublas && !h.Backend.UsesCublas) continue;
                h.Backend.ForcedMatMulPath = path;
                h.Backend.ForcedGemvVariant = variant;
                foreach (var (layout, weight) in new[] { (WeightLayout.Linear, linear), (WeightLayout.Conv1D, conv1d) })
                    foreach (bool withBias in new[] { false, true })
                    {
                        var y = h.Backend.Allocate("y", TensorDType.F32, rows, nOut);
                        h.Backend.MatMul(xt, weight, layout, withBias ? biasTensor : null, y);
                        h.Check(h.Download(y), withBias ? refBias : refPlain, MaxNmse,
                            $"{path} {variant} {layout} {type} bias={withBias} x[{rows},{k}] -> [{rows},{nOut}]");
                        h.Backend.Release(y);
                    }
            }
            h.Backend.ForcedGemvVariant = null;
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
        foreach (var path in new[] { CudaMatMulPath.Gemv, CudaMatMulPath.Gemm })
        {
            h.Backend.ForcedMatMulPath = path;
            var y = h.Backend.Allocate("y", TensorDType.F32, rows, n);
            h.Backend.MatMul(xt, wt, WeightLayout.Linear, bt, y);
            h.Check(h.Download(y), KernelReference.Linear(x, rows, k, w, n, bias, null), MaxNmse, $"{path} F16 weight + F32 bias");
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
    }
}
