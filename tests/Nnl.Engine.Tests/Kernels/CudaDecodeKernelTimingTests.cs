using Nnl.Engine.Cuda;
using Nnl.Engine.Models;
using Nnl.Engine.Runtime;
using Nnl.Engine.Runtime.Cuda;

namespace Nnl.Engine.Tests.Kernels;

/// <summary>
/// GPU time of each decode-step kernel alone, the way a resident step runs it: many launches of
/// one operation replayed as a CUDA graph (no host launch cost between them; events after each op
/// would time the host as well) behind a spin kernel that holds the stream while the host records.
/// GPT-2-XL's shapes (and Llama-2-13B's for the GEMV rule), every GEMV variant, several attention
/// split lengths, the LayerNorm fused into c_attn and c_fc, folded and not; printed for docs/performance.md. Nothing asserted but that it runs: the kernels'
/// results are checked by CudaMatMulTests, CudaRowOperationTests and CudaAttentionTests.
/// </summary>
[Trait("Category", "Gpu")]
[Collection(GpuTimingCollection.Name)]
public class CudaDecodeKernelTimingTests
{
    private const int Repetitions = 9;
    private readonly ITestOutputHelper _output;

    public CudaDecodeKernelTimingTests(ITestOutputHelper output) { _output = output; }

    private static void Fill(CudaBackend be, CudaTensor t, uint seed, float scale) =>
        KernelLibrary.Kernel(be.Context, "random", t.DType switch { TensorDType.F16 => "nnl_fill_uniform_f16", TensorDType.BF16 => "nnl_fill_uniform_bf16", _ => "nnl_fill_uniform_f32" })
            .Launch(be.Stream, 1024, 256, 0, t.Pointer, (ulong)t.ElementCount, seed, scale);

    /// <summary>Median GPU microseconds per call of <paramref name="op"/>, <paramref name="count"/> calls per replayed graph.</summary>
    private static double GraphMicroseconds(CudaBackend be, int count, Action<int> op)
    {
        var spin = KernelLibrary.Kernel(be.Context, "transfer", "nnl_spin_ns");
        void Step()
        {
            be.BeginGraphStep();
            for (int i = 0; i < count; i++) op(i);
            be.EndGraphStep();
        }
        for (int i = 0; i < count; i++) op(i); // scratch, counters, modules
        Step();
        Step();
        be.Synchronize();
        using var start = new CudaEvent(be.Context);
        using var end = new CudaEvent(be.Context);
        var times = new float[Repetitions];
        for (int r = 0; r < Repetitions; r++)
        {
            spin.Launch(be.Stream, 1, 1, 0, 3_000_000UL); // 3 ms: the host records the graph meanwhile
            start.Record(be.Stream);
            Step();
            end.Record(be.Stream);
            end.Synchronize();
            times[r] = end.ElapsedMillisecondsSince(start);
        }
        Array.Sort(times);
        return times[Repetitions / 2] * 1000.0 / count;
    }

    [GpuFact]
    public void DecodeKernelsAreTimedInGraphs()
    {
        using var h = new GpuHarness();
        var be = h.Backend;
        var ctx = Gpu.Context;
        const long copyBytes = 512L << 20;
        double copyGBps;
        using (var src = new DeviceBuffer(ctx, copyBytes))
        using (var dst = new DeviceBuffer(ctx, copyBytes))
        {
            src.Fill(0x21);
            using var s = new CudaEvent(ctx);
            using var e = new CudaEvent(ctx);
            CudaCopy.DeviceToDevice(dst.Pointer, src.Pointer, copyBytes, be.Stream);
            var t = new float[5];
            for (int r = 0; r < t.Length; r++)
            {
                s.Record(be.Stream);
                CudaCopy.DeviceToDevice(dst.Pointer, src.Pointer, copyBytes, be.Stream);
                e.Record(be.Stream);
                e.Synchronize();
                t[r] = e.ElapsedMillisecondsSince(s);
            }
            Array.Sort(t);
            copyGBps = 2.0 * copyBytes / (t[2] * 1e-3) / 1e9;
        }
        _output.WriteLine($"{NnlDevice.Query(0).Name}, {DateTime.UtcNow:yyyy-MM-dd}: kernels replayed in graphs; copy {copyGBps:F0} GB/s read+write");
        uint seed = 1;
        var rows = new List<BackendTensor>();
        BackendTensor Tensor(TensorDType type, float scale, params long[] shape)
        {
            var t = (CudaTensor)be.Allocate("t", type, shape);
            Fill(be, t, seed++, scale);
            rows.Add(t);
            return t;
        }

        // Kernel boundaries: the residual add of one element (one block) and of three blocks an SM (a
        // product's grid), chained with programmatic edges as a step's kernels are. What a decode
        // step pays for each of its launches before any weight moves (GPT-2-XL: 7 a layer, about 340 a step).
        int sms = NnlDevice.Query(0).Multiprocessors;
        foreach (long n in new[] { 1L, 3L * sms * 256 })
        {
            var a = Tensor(TensorDType.F32, 1f, 1, n);
            var b = Tensor(TensorDType.F32, 1f, 1, n);
            var y = Tensor(TensorDType.F32, 1f, 1, n);
            double us = GraphMicroseconds(be, 338, _ => be.Add(a, b, y));
            _output.WriteLine($"Add of {n} floats, {Math.Min((n + 255) / 256, 16L * sms)} block(s): {us:F2} us a launch, {us * 338 / 1000:F3} ms for 338");
        }

        // Norms: the decode step's one row.
        foreach (var (name, dim, bias) in new[] { ("GPT-2-XL LayerNorm", 1600L, true), ("Llama-2-13B RmsNorm", 5120L, false) })
        {
            var x = Tensor(TensorDType.F32, 1f, 1, dim);
            var y = Tensor(TensorDType.F32, 1f, 1, dim);
            var w = Tensor(TensorDType.F16, 1f, dim);
            var b = Tensor(TensorDType.F16, 0.1f, dim);
            double us = GraphMicroseconds(be, 96, _ =>
            {
                if (bias) be.LayerNorm(x, w, b, 1e-5f, y);
                else be.RmsNorm(x, w, 1e-5f, y);
            });
            _output.WriteLine($"{name} [1 x {dim}]: {us:F2} us");
        }

        // Attention: one row, 48 layers' caches (a step's whole KV set, not one L2-resident cache).
        foreach (var (name, heads, hd, contexts) in new[] { ("GPT-2-XL", 25, 64, new[] { 16, 48, 256 }), ("Llama-2-13B", 40, 128, new[] { 256 }) })
            foreach (int context in contexts)
            {
                var shape = new AttentionShape(heads, heads, hd, 1f / MathF.Sqrt(hd));
                var caches = Enumerable.Range(0, 48).Select(_ => (K: Tensor(TensorDType.F32, 1f, 1, context + 1, heads * hd), V: Tensor(TensorDType.F32, 1f, 1, context + 1, heads * hd))).ToList();
                var q = Tensor(TensorDType.F32, 1f, 1, heads * hd);
                var y = Tensor(TensorDType.F32, 1f, 1, heads * hd);
                using var batch = be.PrepareBatch(new TokenBatch([464], [context], [0], [0]));
                foreach (int? split in new int?[] { null, 32, 64, 128, 256, 512 })
                {
                    if (split > 2 * (context + 1)) continue;
                    be.ForcedSplitLength = split;
                    double us = GraphMicroseconds(be, 48, i => be.Attention(q, caches[i].K, caches[i].V, batch, shape, y));
                    _output.WriteLine($"{name} Attention {heads} x {hd}, context {context + 1}, split {split?.ToString() ?? "default"}: {us:F2} us");
                }
                be.ForcedSplitLength = null;
            }

        // GEMV (nn.Linear layout): enough distinct matrices that they do not fit in L2, every variant.
        var cases = new (string Name, long Out, long In, bool Bias, MatMulEpilogue Epilogue)[]
        {
            ("GPT-2-XL c_attn", 4800, 1600, true, MatMulEpilogue.None),
            ("GPT-2-XL attn c_proj", 1600, 1600, true, MatMulEpilogue.Accumulate),
            ("GPT-2-XL c_fc", 6400, 1600, true, MatMulEpilogue.GeluNew),
            ("GPT-2-XL mlp c_proj", 1600, 6400, true, MatMulEpilogue.Accumulate),
            ("GPT-2-XL lm_head", 50257, 1600, false, MatMulEpilogue.None),
            ("Llama-2-13B attn_q", 5120, 5120, false, MatMulEpilogue.None),
            ("Llama-2-13B ffn_up", 13824, 5120, false, MatMulEpilogue.None),
            ("Llama-2-13B ffn_down", 5120, 13824, false, MatMulEpilogue.Accumulate),
        };
        foreach (var c in cases)
        {
            long bytes = c.Out * c.In * 2;
            int copies = (int)Math.Max(2, (384L << 20) / bytes);
            var weights = Enumerable.Range(0, copies).Select(_ => Tensor(TensorDType.F16, 0.02f, c.Out, c.In)).ToList();
            var bias = c.Bias ? Tensor(TensorDType.F16, 0.02f, c.Out) : null;
            var x = Tensor(TensorDType.F32, 1f, 1, c.In);
            var y = Tensor(TensorDType.F32, 0.1f, 1, c.Out);
            int count = (int)Math.Max(copies, Math.Min(48, (256L << 20) / bytes)); // large matrices: a few calls are long enough
            foreach (var variant in new CudaGemvVariant?[] { null }.Concat(Enum.GetValues<CudaGemvVariant>().Select(v => (CudaGemvVariant?)v)))
            {
                be.ForcedGemvVariant = variant;
                double us = GraphMicroseconds(be, count, i => be.MatMul(x, weights[i % copies], WeightLayout.Linear, bias, y, c.Epilogue));
                double gbps = bytes / (us * 1e-6) / 1e9;
                _output.WriteLine($"{c.Name} [{c.Out} x {c.In}] {c.Epilogue}, {variant?.ToString() ?? "default"}: {us:F2} us, {gbps:F0} GB/s = {gbps / copyGBps:P0} of copy");
            }
            be.ForcedGemvVariant = null;
        }
        // LayerNorm fused into the GEMV (NormMatMul), GPT-2-XL's c_attn and c_fc, against the two launches it replaces.
        foreach (var c in cases.Where(c => c.Name is "GPT-2-XL c_attn" or "GPT-2-XL c_fc"))
        {
            long bytes = c.Out * c.In * 2;
            int copies = (int)Math.Max(2, (384L << 20) / bytes);
            var weights = Enumerable.Range(0, copies).Select(_ => Tensor(TensorDType.F16, 0.02f, c.Out, c.In)).ToList();
            var bias = Tensor(TensorDType.F16, 0.02f, c.Out);
            var norm = RowNorm.Layer(Tensor(TensorDType.F16, 1f, c.In), Tensor(TensorDType.F16, 0.1f, c.In), 1e-5f);
            var x = Tensor(TensorDType.F32, 1f, 1, c.In);
            var normed = Tensor(TensorDType.F32, 1f, 1, c.In);
            var y = Tensor(TensorDType.F32, 0.1f, 1, c.Out);
            int count = (int)Math.Max(copies, Math.Min(48, (256L << 20) / bytes));
            be.FoldNormIntoProduct = false;
            foreach (var (fuse, variant) in new (bool, CudaGemvVariant?)[]
                     { (false, null), (true, null), (true, CudaGemvVariant.OneRow), (true, CudaGemvVariant.FourRows), (true, CudaGemvVariant.BlockFourRows) })
            {
                be.FuseNormIntoGemv = fuse;
                be.ForcedGemvVariant = variant;
                double us = GraphMicroseconds(be, count, i => be.NormMatMul(x, norm, normed, weights[i % copies], WeightLayout.Linear, bias, y, c.Epilogue));
                double gbps = bytes / (us * 1e-6) / 1e9;
                _output.WriteLine($"{c.Name} [{c.Out} x {c.In}] {c.Epilogue} with its LayerNorm {(fuse ? "fused" : "as its own launch")}, " +
                    $"{variant?.ToString() ?? "default"}: {us:F2} us, {gbps:F0} GB/s = {gbps / copyGBps:P0} of copy");
            }
            be.FuseNormIntoGemv = false;
            be.ForcedGemvVariant = null;
            // The norm folded into the register GEMV (constant weights: resident ones are declared so).
            be.FoldNormIntoProduct = true;
            foreach (var t in weights.Append(bias).Append(norm.Weight).Append(norm.Bias!)) be.DeclareConstant(t);
            long folds = be.FoldedNorms;
            double folded = GraphMicroseconds(be, count, i => be.NormMatMul(x, norm, normed, weights[i % copies], WeightLayout.Linear, bias, y, c.Epilogue));
            double foldedGbps = bytes / (folded * 1e-6) / 1e9;
            _output.WriteLine($"{c.Name} [{c.Out} x {c.In}] {c.Epilogue} with its LayerNorm folded{(be.FoldedNorms > folds ? "" : " (NOT FOLDED)")}: " +
                $"{folded:F2} us, {foldedGbps:F0} GB/s = {foldedGbps / copyGBps:P0} of copy");
        }
        _output.WriteLine($"graph fallbacks {be.GraphStatistics.Fallbacks}");
        foreach (var t in rows) be.Release(t);
    }
}
