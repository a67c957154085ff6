using Nnl.Engine.Cuda;
using Nnl.Engine.Models;
using Nnl.Engine.Runtime;
using Nnl.Engine.Runtime.Cuda;

namespace Nnl.Engine.Tests.Kernels;

/// <summary>
/// Resident decode speed is the rate at which the one-token products read their weights. This
/// measures it for model-shaped matrices against a device-to-device copy timed in the same run
/// (counted as bytes read + written, as CUDA's bandwidthTest does, the stricter reading), and
/// prints both for docs/performance.md.
/// </summary>
[Trait("Category", "Gpu")]
[Collection(GpuTimingCollection.Name)]
public class CudaGemvBandwidthTests
{
    private readonly ITestOutputHelper _output;

    public CudaGemvBandwidthTests(ITestOutputHelper output) { _output = output; }

    private static float MedianMilliseconds(CudaStream stream, int repetitions, Action work)
    {
        var ctx = stream.Context;
        using var start = new CudaEvent(ctx);
        using var end = new CudaEvent(ctx);
        work(); // warm-up (JIT, caches, clocks)
        stream.Synchronize();
        var times = new float[repetitions];
        for (int r = 0; r < repetitions; r++)
        {
            start.Record(stream);
            work();
            end.Record(stream);
            end.Synchronize();
            times[r] = end.ElapsedMillisecondsSince(start);
        }
        Array.Sort(times);
        return times[repetitions / 2];
    }

    [GpuFact]
    public void OneTokenProductsReadWeightsAtLeastAtSixtyPercentOfTheCopyBandwidth()
    {
        using var h = new GpuHarness();
        var be = h.Backend;
        var ctx = Gpu.Context;
        const long copyBytes = 512L << 20;
        using var src = new DeviceBuffer(ctx, copyBytes);
        using var dst = new DeviceBuffer(ctx, copyBytes);
        src.Fill(0x21);
        float copyMs = MedianMilliseconds(be.Stream, 7, () => CudaCopy.DeviceToDevice(dst.Pointer, src.Pointer, copyBytes, be.Stream));
        double copyGBps = 2.0 * copyBytes / (copyMs * 1e-3) / 1e9;
        _output.WriteLine($"{NnlDevice.Query(0).Name}: device-to-device copy {copyGBps:F0} GB/s (read + write)");

        var cases = new (string Name, TensorDType Type, WeightLayout Layout, long Out, long In)[]
        {
            ("Llama-2-13B ffn_down", TensorDType.F16, WeightLayout.Linear, 5120, 13824),
            ("Llama-2-13B attn_q", TensorDType.F16, WeightLayout.Linear, 5120, 5120),
            ("Llama-2-7B ffn_up bf16", TensorDType.BF16, WeightLayout.Linear, 11008, 4096),
            ("GPT-2-XL lm_head", TensorDType.F16, WeightLayout.Linear, 50257, 1600),
            ("GPT-2-XL c_attn (Conv1D)", TensorDType.F16, WeightLayout.Conv1D, 4800, 1600),
            ("GPT-2-XL c_fc (Conv1D)", TensorDType.F16, WeightLayout.Conv1D, 6400, 1600),
            ("GPT-2-XL c_proj mlp (Conv1D)", TensorDType.F16, WeightLayout.Conv1D, 1600, 6400),
            // The same matrices stored transposed (as the offload binder keeps resident GPT-2 weights).
            ("GPT-2-XL c_attn as Linear", TensorDType.F16, WeightLayout.Linear, 4800, 1600),
            ("GPT-2-XL attn c_proj as Linear", TensorDType.F16, WeightLayout.Linear, 1600, 1600),
            ("GPT-2-XL c_fc as Linear", TensorDType.F16, WeightLayout.Linear, 6400, 1600),
            ("GPT-2-XL c_proj mlp as Linear", TensorDType.F16, WeightLayout.Linear, 1600, 6400),
            ("GPT-2-XL attn c_proj (Conv1D)", TensorDType.F16, WeightLayout.Conv1D, 1600, 1600),
        };
        var failures = new List<string>();
        var rng = new Random(73);
        foreach (var c in cases)
        {
            long bytes = c.Out * c.In * c.Type.ElementBytes();
            // Enough distinct copies of the matrix that the set does not fit in L2 (as in a real step).
            int copies = (int)Math.Max(1, (384L << 20) / bytes);
            var shape = c.Layout == WeightLayout.Linear ? new[] { c.Out, c.In } : new[] { c.In, c.Out };
            var weights = Enumerable.Range(0, copies).Select(_ => (CudaTensor)be.Allocate("w", c.Type, shape)).ToList();
            foreach (var w in weights) CudaCopy.Fill(w.Pointer, 0x21, w.ByteCount, be.Stream); // 0x2121: a small normal value in fp16 and bf16
            var x = h.Activation("x", KernelData.Uniform(rng, (int)c.In, 1), 1, c.In);
            var y = be.Allocate("y", TensorDType.F32, 1, c.Out);
            // The default choice first (the bar applies to it), then every variant for the record:
            // GEMV entries for nn.Linear, split-K targets for Conv1D.
            int defaultTarget = be.Conv1DBlocksPerSm;
            var configs = c.Layout == WeightLayout.Linear
                ? new (CudaGemvVariant? Variant, int Target)[] { (null, defaultTarget) }.Concat(Enum.GetValues<CudaGemvVariant>().Select(v => ((CudaGemvVariant?)v, defaultTarget))).ToArray()
                : [(null, defaultTarget), (null, 1), (null, 4)];
            foreach (var (variant, target) in configs)
            {
                be.ForcedGemvVariant = variant;
                be.Conv1DBlocksPerSm = target;
                float ms = MedianMilliseconds(be.Stream, 5, () =>
                {
                    foreach (var w in weights) be.MatMul(x, w, c.Layout, null, y);
                });
                double gbps = (double)bytes * copies / (ms * 1e-3) / 1e9;
                double fraction = gbps / copyGBps;
                string config = c.Layout == WeightLayout.Linear ? variant?.ToString() ?? "default" : $"{target} blocks/SM" + (target == defaultTarget ? " (default)" : "");
                _output.WriteLine($"{c.Name} {c.Type} [{c.Out} x {c.In}] {bytes >> 20} MiB, {config}: {gbps:F0} GB/s = {fraction:P0} of copy, {ms * 1000 / copies:F1} us per product");
                // Small matrices are dominated by launch gaps; the bar applies to the large ones.
                if (variant is null && target == defaultTarget && bytes >= 50L << 20 && fraction < 0.6) failures.Add($"{c.Name}: {fraction:P0} of the copy bandwidth");
            }
            be.ForcedGemvVariant = null;
            be.Conv1DBlocksPerSm = defaultTarget;
            foreach (var w in weights) be.Release(w);
            be.Release(x);
            be.Release(y);
        }
        if (failures.Count > 0) Assert.Fail(string.Join(Environment.NewLine, failures));
    }
}

/// <summary>Timing tests run alone: other tests' kernels on the same GPU would distort them.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class GpuTimingCollection
{
    public const string Name = "GPU timing";
}
