using System.Diagnostics;
using Nnl.Engine.Cuda;
using Nnl.Engine.Models;
using Nnl.Engine.Runtime;
using Nnl.Engine.Runtime.Cuda;

namespace Nnl.Engine.Tests.Kernels;

/// <summary>
/// One resident decode step of a whole model-shaped stack on the CUDA backend: the operations
/// GPT-2's and Llama's graph builders issue per layer (Gpt2Architecture.Block,
/// LlamaArchitecture.Block), in their order, with random fp16 weights filled on the device, an
/// fp32 KV cache holding a 256-token context, then the final norm and the head. The fused table:
/// residual adds ride on the projections (MatMul's Accumulate epilogue), GPT-2's gelu on its fc
/// (GeluNew epilogue), its q, k and v are column views of the qkv product, its LayerNorms run inside
/// the qkv and fc GEMVs where those read nn.Linear memory (NormMatMul). Timed with CUDA
/// events (warm-up, median of repetitions) next to a device-to-device copy in the same run, and
/// printed for docs/performance.md: weight GB/s, its ratio to the copy (counted read + write, as
/// bandwidthTest does, and as bytes copied), launches per step and the host's time to queue them.
/// </summary>
[Trait("Category", "Gpu")]
[Collection(GpuTimingCollection.Name)]
public class CudaDecodeStepBenchmarkTests
{
    private const int Context = 256;
    private const int Repetitions = 15;

    private readonly ITestOutputHelper _output;

    public CudaDecodeStepBenchmarkTests(ITestOutputHelper output) { _output = output; }

    private sealed record ModelShape(string Name, bool Gpt2, int Layers, int Hidden, int Heads, int KvHeads, int Ffn, int Vocab, bool StoredAsLinear = false);

    private static readonly ModelShape Gpt2Xl = new("GPT-2-XL", true, 48, 1600, 25, 25, 6400, 50257);
    private static readonly ModelShape Llama2_13B = new("Llama-2-13B", false, 40, 5120, 40, 40, 13824, 32000);

    [GpuFact]
    public void Gpt2XlDecodeStepIsTimedAgainstTheCopyBandwidth() => Run(Gpt2Xl);

    [GpuFact]
    public void Llama2_13BDecodeStepIsTimedAgainstTheCopyBandwidth() => Run(Llama2_13B);

    /// <summary>GPT-2-XL with its Conv1D matrices stored as nn.Linear, as the offload binder keeps resident ones.</summary>
    [GpuFact]
    public void Gpt2XlWithTransposedWeightsDecodeStepIsTimedAgainstTheCopyBandwidth() => Run(Gpt2Xl with { Name = "GPT-2-XL (Conv1D stored as Linear)", StoredAsLinear = true });

    /// <summary>The weights of one stack, filled with uniform random values on the device.</summary>
    private sealed class Stack
    {
        private readonly CudaBackend _be;
        private uint _seed = 1;

        public Stack(CudaBackend be) { _be = be; }

        public List<BackendTensor> All { get; } = new();
        public long WeightBytes { get; private set; }

        public BackendTensor Tensor(string name, TensorDType type, float scale, bool countAsWeight, params long[] shape)
        {
            var t = (CudaTensor)_be.Allocate(name, type, shape);
            Fill(_be, t, _seed++, scale);
            All.Add(t);
            if (countAsWeight) WeightBytes += t.ByteCount;
            return t;
        }

        public BackendTensor Weight(string name, float scale, params long[] shape) => Tensor(name, TensorDType.F16, scale, true, shape);
    }

    private static void Fill(CudaBackend be, CudaTensor t, uint seed, float scale) =>
        KernelLibrary.Kernel(be.Context, "random", t.DType switch { TensorDType.F16 => "nnl_fill_uniform_f16", TensorDType.BF16 => "nnl_fill_uniform_bf16", _ => "nnl_fill_uniform_f32" })
            .Launch(be.Stream, 1024, 256, 0, t.Pointer, (ulong)t.ElementCount, seed, scale);

    private void Run(ModelShape m)
    {
        using var h = new GpuHarness();
        var be = h.Backend;
        long hd = m.Hidden / m.Heads, kvWidth = m.KvHeads * hd;
        var stack = new Stack(be);
        // Weights: matrices ~ U(-0.02, 0.02) (GPT-2's init scale), norm weights ~ U(-1, 1).
        var layers = new List<Dictionary<string, BackendTensor>>();
        for (int l = 0; l < m.Layers; l++)
        {
            var w = new Dictionary<string, BackendTensor>();
            if (m.Gpt2)
            {
                w["ln1"] = stack.Weight("ln_1.weight", 1f, m.Hidden);
                w["ln1b"] = stack.Weight("ln_1.bias", 0.1f, m.Hidden);
                w["qkv"] = stack.Weight("c_attn.weight", 0.02f, m.Hidden, 3L * m.Hidden);
                w["qkvb"] = stack.Weight("c_attn.bias", 0.02f, 3L * m.Hidden);
                w["proj"] = stack.Weight("attn.c_proj.weight", 0.02f, m.Hidden, m.Hidden);
                w["projb"] = stack.Weight("attn.c_proj.bias", 0.02f, m.Hidden);
                w["ln2"] = stack.Weight("ln_2.weight", 1f, m.Hidden);
                w["ln2b"] = stack.Weight("ln_2.bias", 0.1f, m.Hidden);
                w["fc"] = stack.Weight("c_fc.weight", 0.02f, m.Hidden, m.Ffn);
                w["fcb"] = stack.Weight("c_fc.bias", 0.02f, m.Ffn);
                w["down"] = stack.Weight("mlp.c_proj.weight", 0.02f, m.Ffn, m.Hidden);
                w["downb"] = stack.Weight("mlp.c_proj.bias", 0.02f, m.Hidden);
                if (m.StoredAsLinear)
                    foreach (var role in new[] { "qkv", "proj", "fc", "down" })
                    {
                        // Random values either way: the same memory, read as [out, in].
                        var t = (CudaTensor)w[role];
                        w[role] = be.WrapDeviceMemory(new TensorInfo(t.Name, t.DType, t.Shape, "", 0, t.ByteCount), t.Pointer, transposed: true);
                    }
            }
            else
            {
                w["ln1"] = stack.Weight("input_layernorm.weight", 1f, m.Hidden);
                w["q"] = stack.Weight("q_proj.weight", 0.02f, m.Hidden, m.Hidden);
                w["k"] = stack.Weight("k_proj.weight", 0.02f, kvWidth, m.Hidden);
                w["v"] = stack.Weight("v_proj.weight", 0.02f, kvWidth, m.Hidden);
                w["o"] = stack.Weight("o_proj.weight", 0.02f, m.Hidden, m.Hidden);
                w["ln2"] = stack.Weight("post_attention_layernorm.weight", 1f, m.Hidden);
                w["gate"] = stack.Weight("gate_proj.weight", 0.02f, m.Ffn, m.Hidden);
                w["up"] = stack.Weight("up_proj.weight", 0.02f, m.Ffn, m.Hidden);
                w["down"] = stack.Weight("down_proj.weight", 0.02f, m.Hidden, m.Ffn);
            }
            w["kc"] = stack.Tensor("k.cache", TensorDType.F32, 1f, false, 1, Context + 1, kvWidth);
            w["vc"] = stack.Tensor("v.cache", TensorDType.F32, 1f, false, 1, Context + 1, kvWidth);
            layers.Add(w);
        }
        // The head reads the whole vocabulary matrix (GPT-2 ties it to the token embedding).
        var embed = stack.Tensor("token_embd", TensorDType.F16, 0.1f, true, m.Vocab, m.Hidden);
        var posEmbed = m.Gpt2 ? stack.Tensor("position_embd", TensorDType.F16, 0.1f, false, 1024, m.Hidden) : null;
        var head = m.Gpt2 ? embed : stack.Weight("lm_head", 0.02f, m.Vocab, m.Hidden);
        var lnf = stack.Weight("norm.weight", 1f, m.Hidden);
        var lnfb = m.Gpt2 ? stack.Weight("ln_f.bias", 0.1f, m.Hidden) : null;
        long kvBytes = m.Layers * 2L * Context * kvWidth * sizeof(float);

        // Activations, allocated once (the runtime's workspace is reused the same way).
        BackendTensor A(string name, long cols) => be.Allocate(name, TensorDType.F32, 1, cols);
        var x = A("x", m.Hidden);
        var pos = A("pos", m.Hidden);
        var norm = A("norm", m.Hidden);
        var qkv = A("qkv", 3L * m.Hidden);
        var q = A("q", m.Hidden);
        var k = A("k", kvWidth);
        var v = A("v", kvWidth);
        var attn = A("attn", m.Hidden);
        // GPT-2 reads q, k and v straight out of the qkv product (column views, no copies).
        var qView = be.ColumnView(qkv, 0, m.Hidden);
        var kView = be.ColumnView(qkv, m.Hidden, m.Hidden);
        var vView = be.ColumnView(qkv, 2L * m.Hidden, m.Hidden);
        var up = A("up", m.Ffn);
        var gate = A("gate", m.Ffn);
        var final = A("final", m.Hidden);
        var logits = A("logits", m.Vocab);
        var shape = new AttentionShape(m.Heads, m.KvHeads, (int)hd, 1f / MathF.Sqrt(hd));
        var invFreq = Enumerable.Range(0, (int)hd / 2).Select(i => (float)(1.0 / Math.Pow(10000, 2.0 * i / hd))).ToArray();
        var rope = new RotaryEmbedding((int)hd, invFreq);
        using var batch = be.PrepareBatch(new TokenBatch([464], [Context], [0], [0]));

        // Profiling: an event after each operation, recorded only while `marks` is set.
        List<(string Op, CudaEvent Event)>? marks = null;
        void Mark(string op)
        {
            if (marks is null) return;
            var e = new CudaEvent(be.Context);
            e.Record(be.Stream);
            marks.Add((op, e));
        }

        void Step()
        {
            be.EmbeddingLookup(embed, batch, EmbeddingIndex.Token, x);
            Mark("EmbeddingLookup");
            if (posEmbed is not null)
            {
                be.EmbeddingLookup(posEmbed, batch, EmbeddingIndex.Position, pos);
                Mark("EmbeddingLookup");
                be.Add(x, pos, x);
                Mark("Add");
            }
            foreach (var w in layers)
            {
                if (m.Gpt2)
                {
                    be.NormMatMul(x, RowNorm.Layer(w["ln1"], w["ln1b"], 1e-5f), norm, w["qkv"], WeightLayout.Conv1D, w["qkvb"], qkv);
                    Mark("LayerNorm + MatMul qkv");
                    be.StoreKvAndAttend(qView, kView, vView, w["kc"], w["vc"], batch, shape, attn);
                    Mark("StoreKv + Attention");
                    be.MatMul(attn, w["proj"], WeightLayout.Conv1D, w["projb"], x, MatMulEpilogue.Accumulate);
                    Mark("MatMul proj + residual");
                    be.NormMatMul(x, RowNorm.Layer(w["ln2"], w["ln2b"], 1e-5f), norm, w["fc"], WeightLayout.Conv1D, w["fcb"], up, MatMulEpilogue.GeluNew);
                    Mark("LayerNorm + MatMul fc + gelu");
                    be.MatMul(up, w["down"], WeightLayout.Conv1D, w["downb"], x, MatMulEpilogue.Accumulate);
                    Mark("MatMul down + residual");
                }
                else
                {
                    be.RmsNorm(x, w["ln1"], 1e-5f, norm);
                    Mark("RmsNorm");
                    be.MatMul(norm, w["q"], WeightLayout.Linear, null, q);
                    Mark("MatMul q");
                    be.MatMul(norm, w["k"], WeightLayout.Linear, null, k);
                    Mark("MatMul k");
                    be.MatMul(norm, w["v"], WeightLayout.Linear, null, v);
                    Mark("MatMul v");
                    be.Rope(q, batch, m.Heads, rope);
                    Mark("Rope");
                    be.Rope(k, batch, m.KvHeads, rope);
                    Mark("Rope");
                    be.StoreKvAndAttend(q, k, v, w["kc"], w["vc"], batch, shape, attn);
                    Mark("StoreKv + Attention");
                    be.MatMul(attn, w["o"], WeightLayout.Linear, null, x, MatMulEpilogue.Accumulate);
                    Mark("MatMul o + residual");
                    be.RmsNorm(x, w["ln2"], 1e-5f, norm);
                    Mark("RmsNorm");
                    be.MatMul(norm, w["gate"], WeightLayout.Linear, null, gate);
                    Mark("MatMul gate");
                    be.MatMul(norm, w["up"], WeightLayout.Linear, null, up);
                    Mark("MatMul up");
                    be.SiluMul(gate, up, gate);
                    Mark("SiluMul");
                    be.MatMul(gate, w["down"], WeightLayout.Linear, null, x, MatMulEpilogue.Accumulate);
                    Mark("MatMul down + residual");
                }
            }
            if (m.Gpt2) be.LayerNorm(x, lnf, lnfb, 1e-5f, final);
            else be.RmsNorm(x, lnf, 1e-5f, final);
            Mark("final norm");
            be.MatMul(final, head, WeightLayout.Linear, null, logits);
            Mark("MatMul head");
        }

        var ctx = Gpu.Context;
        const long copyBytes = 1L << 30;
        float copyMs;
        using (var src = new DeviceBuffer(ctx, copyBytes))
        using (var dst = new DeviceBuffer(ctx, copyBytes))
        {
            src.Fill(0x21);
            copyMs = Median(be.Stream, 7, () => CudaCopy.DeviceToDevice(dst.Pointer, src.Pointer, copyBytes, be.Stream)).GpuMs;
        }
        double copyReadWriteGBps = 2.0 * copyBytes / (copyMs * 1e-3) / 1e9;
        double copiedGBps = copyReadWriteGBps / 2;

        // The step is deterministic: two runs give the same logits bit for bit, and they are finite.
        Step();
        var first = h.Download(logits);
        long launchesBefore = be.Launches;
        Step();
        long launches = be.Launches - launchesBefore;
        var second = h.Download(logits);
        Assert.All(first, f => Assert.True(float.IsFinite(f)));
        Assert.Equal(first, second);
        Assert.True(first.Distinct().Count() > m.Vocab / 2, "the logits should vary over the vocabulary");
        // The fused table: a GPT-2 layer is 8 kernels, 6 with its norms inside the GEMVs of nn.Linear
        // memory (NormMatMul, when the backend fuses it; off by default), a Llama layer 14 (no Add,
        // no SliceColumns, no GeluNew), each one fewer with the KV store inside attention (on by
        // default); plus the embedding (GPT-2: token, position, add), the final norm and the head.
        bool normsFused = m.StoredAsLinear && be.FuseNormIntoGemv;
        int kvStore = be.FuseKvStoreIntoAttention ? 0 : 1;
        Assert.Equal((m.Gpt2 ? 3 : 1) + m.Layers * ((m.Gpt2 ? (normsFused ? 5 : 7) : 13) + kvStore) + 2, launches);

        string device = NnlDevice.Query(0).Name;
        _output.WriteLine($"{device}, {DateTime.UtcNow:yyyy-MM-dd}: copy {copyReadWriteGBps:F0} GB/s read+write ({copiedGBps:F0} GB/s copied), 1 GiB");
        var variants = m.Gpt2 ? new CudaGemvVariant?[] { null } : [null, .. Enum.GetValues<CudaGemvVariant>().Select(v => (CudaGemvVariant?)v)];
        var conv1DTargets = m.Gpt2 ? new[] { be.Conv1DBlocksPerSm, 1, 4 } : [be.Conv1DBlocksPerSm];
        int defaultTarget = be.Conv1DBlocksPerSm;
        float defaultMs = 0;
        foreach (var variant in variants)
            foreach (var target in conv1DTargets)
            {
                be.ForcedGemvVariant = variant;
                be.Conv1DBlocksPerSm = target;
                var (gpuMs, hostMs) = Median(be.Stream, Repetitions, Step);
                if (variant is null && target == defaultTarget) defaultMs = gpuMs;
                double gbps = stack.WeightBytes / (gpuMs * 1e-3) / 1e9;
                string config = m.Gpt2 ? $"conv1d {target} blocks/SM" : $"gemv {variant?.ToString() ?? "default"}";
                _output.WriteLine(
                    $"{m.Name} decode step ({config}), {m.Layers} layers, weights {stack.WeightBytes / 1e9:F2} GB fp16, KV {kvBytes / 1e6:F0} MB fp32 at {Context} tokens: " +
                    $"{gpuMs:F3} ms/token, {gbps:F0} GB/s of weights = {gbps / copyReadWriteGBps:P0} of copy read+write, {gbps / copiedGBps:P0} of bytes copied; " +
                    $"{launches} launches, host queues them in {hostMs:F3} ms ({hostMs * 1000 / launches:F2} us/launch)");
            }
        be.ForcedGemvVariant = null;
        be.Conv1DBlocksPerSm = defaultTarget;
        if (m.Gpt2 && m.StoredAsLinear)
        {
            // The same step with the other choice of NormMatMul's fusion (each LayerNorm its own launch, or inside the GEMV).
            bool fused = be.FuseNormIntoGemv;
            be.FuseNormIntoGemv = !fused;
            var (otherMs, otherHostMs) = Median(be.Stream, Repetitions, Step);
            be.FuseNormIntoGemv = fused;
            _output.WriteLine($"{m.Name} decode step with the norms {(fused ? "composed (LayerNorm, then GEMV)" : "fused into the GEMVs")}: {otherMs:F3} ms/token " +
                $"against {defaultMs:F3} {(fused ? "fused" : "composed")}; {launches + (fused ? 2 : -2) * m.Layers} launches, host queues them in {otherHostMs:F3} ms");
        }

        // The same step replayed as one CUDA graph (what the runner does for a fully resident model).
        void GraphStep()
        {
            be.BeginGraphStep();
            Step();
            be.EndGraphStep();
        }
        GraphStep();
        Assert.Equal(first, h.Download(logits)); // the same kernels and arguments: bit for bit
        var (graphMs, graphHostMs) = Median(be.Stream, Repetitions, GraphStep);
        var graphs = be.GraphStatistics;
        Assert.Equal(0L, graphs.Fallbacks);
        Assert.Equal(1L, graphs.Rebuilds);
        Assert.Equal(launches, (long)graphs.LastNodeCount);
        Assert.Equal(0, graphs.LastUpdatedNodes); // every pointer and grid of this step is fixed
        _output.WriteLine(
            $"{m.Name} decode step as a CUDA graph: {graphMs:F3} ms/token against {defaultMs:F3} launched one by one " +
            $"({stack.WeightBytes / (graphMs * 1e-3) / 1e9:F0} GB/s of weights); {graphs.LastNodeCount} nodes, host records and launches them in {graphHostMs:F3} ms");

        {
            // The same graph step with the other choice of the KV store (inside attention, or its own
            // launch): the same logits but for the order in which the softmax meets the newest key.
            bool fused = be.FuseKvStoreIntoAttention;
            be.FuseKvStoreIntoAttention = !fused;
            var (otherMs, _) = Median(be.Stream, Repetitions, GraphStep);
            var other = h.Download(logits);
            be.FuseKvStoreIntoAttention = fused;
            Assert.True(KernelData.Nmse(other, first.Select(f => (double)f).ToArray()) < 1e-8, "the KV store's placement should not change the logits");
            _output.WriteLine($"{m.Name} decode step as a CUDA graph with the KV store {(fused ? "as its own launch" : "inside attention")}: " +
                $"{otherMs:F3} ms/token against {graphMs:F3}; {be.GraphStatistics.LastNodeCount} nodes");
        }

        // Where the time of one step goes, by operation (default kernels; events add a little).
        using (var start = new CudaEvent(be.Context))
        {
            marks = new();
            start.Record(be.Stream);
            Step();
            be.Synchronize();
            var byOp = new Dictionary<string, (double Ms, int Count)>();
            var previous = start;
            foreach (var (op, e) in marks)
            {
                double ms = e.ElapsedMillisecondsSince(previous);
                var (sum, count) = byOp.GetValueOrDefault(op);
                byOp[op] = (sum + ms, count + 1);
                previous = e;
            }
            double total = byOp.Values.Sum(v => v.Ms);
            _output.WriteLine($"{m.Name} profiled step {total:F3} ms, by operation (total ms, count, us each):");
            foreach (var (op, (sum, count)) in byOp.OrderByDescending(kv => kv.Value.Ms))
                _output.WriteLine($"  {op,-22} {sum,8:F3} ms {count,4} x {sum * 1000 / count,7:F1} us = {sum / total,4:P0}");
            foreach (var (_, e) in marks) e.Dispose();
            marks = null;
        }
        foreach (var t in stack.All) be.Release(t);
        foreach (var t in new[] { qView, kView, vView, x, pos, norm, qkv, q, k, v, attn, up, gate, final, logits }) be.Release(t);
    }

    /// <summary>Median GPU time (events) and host time to queue the work, after one warm-up.</summary>
    private static (float GpuMs, double HostMs) Median(CudaStream stream, int repetitions, Action work)
    {
        var ctx = stream.Context;
        using var start = new CudaEvent(ctx);
        using var end = new CudaEvent(ctx);
        work();
        work();
        stream.Synchronize();
        var gpu = new float[repetitions];
        var host = new double[repetitions];
        for (int r = 0; r < repetitions; r++)
        {
            start.Record(stream);
            long t0 = Stopwatch.GetTimestamp();
            work();
            host[r] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
            end.Record(stream);
            end.Synchronize();
            gpu[r] = end.ElapsedMillisecondsSince(start);
        }
        Array.Sort(gpu);
        Array.Sort(host);
        return (gpu[repetitions / 2], host[repetitions / 2]);
    }
}
