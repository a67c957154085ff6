using Nnl.Engine.Models;
using Nnl.Engine.Runtime;
using Nnl.Engine.Runtime.Cpu;
using Nnl.Engine.Runtime.Cuda;

namespace Nnl.Engine.Tests.Kernels;

/// <summary>
/// The same transformer blocks (Llama-style and GPT-2-style), composed from the operation table, on
/// the CPU backend (the reference engine) and the CUDA backend: a prefill of a ragged two-sequence
/// batch, then decode steps, compared after every step. Catches what single-operation tests cannot:
/// layouts that disagree between operations, cache positions, batch bookkeeping. The blocks are
/// composed as the graph builders compose them: residual adds and GPT-2's gelu as MatMul epilogues,
/// GPT-2's q, k and v as column views of its qkv product, its LayerNorms through NormMatMul.
/// </summary>
[Trait("Category", "Gpu")]
[Collection("Gpu")]
public class CudaBackendParityTests
{
    private const double MaxNmse = 1e-8;

    private sealed class Weights
    {
        private readonly Dictionary<string, (double[] Values, long[] Shape)> _host = new();
        private readonly Random _rng;
        public Weights(Random rng, KernelDType type) { _rng = rng; Type = type; }
        public KernelDType Type { get; }

        public void Add(string name, double scale, params long[] shape) =>
            _host[name] = (KernelData.Uniform(_rng, (int)shape.Aggregate(1L, (a, b) => a * b), scale, Type), shape);

        /// <summary>Matrices the CUDA backend gets stored transposed (Conv1D [in, out] in nn.Linear's memory, as the resident GPT-2 loader keeps them).</summary>
        public HashSet<string> StoredTransposedOnGpu { get; } = new();

        public unsafe Dictionary<string, BackendTensor> On(IComputeBackend be)
        {
            var result = new Dictionary<string, BackendTensor>();
            foreach (var (name, (values, shape)) in _host)
            {
                bool transposed = be is CudaBackend && StoredTransposedOnGpu.Contains(name);
                var bytes = KernelData.ToBytes(transposed ? KernelReference.Transpose(values, (int)shape[0], (int)shape[1]) : values, Type);
                var info = new TensorInfo(name, GpuHarness.ToTensorDType(Type), transposed ? [shape[1], shape[0]] : shape, "test", 0, bytes.Length);
                fixed (byte* p = bytes) result[name] = be.CreateWeight(info, new WeightBytes(p, bytes.Length));
                // The backend frees the memory when it is disposed; the wrapper reads it as [in, out].
                if (transposed) result[name] = ((CudaBackend)be).WrapDeviceMemory(info with { Shape = shape }, ((CudaTensor)result[name]).Pointer, transposed: true);
            }
            return result;
        }
    }

    private delegate float[] Block(IComputeBackend be, Dictionary<string, BackendTensor> w, KvCache cache, BackendBatch batch, BackendTensor x);

    private static float[] Llama(IComputeBackend be, Dictionary<string, BackendTensor> w, KvCache cache, BackendBatch batch, BackendTensor x,
        int dim, int heads, int kvHeads, int ff, RotaryEmbedding rope)
    {
        int hd = dim / heads, rows = batch.RowCount;
        var shape = new AttentionShape(heads, kvHeads, hd, (float)(1 / Math.Sqrt(hd)));
        BackendTensor T(string n, long c) => be.Allocate(n, TensorDType.F32, rows, c);
        var norm = T("norm", dim);
        be.RmsNorm(x, w["attn_norm"], 1e-5f, norm);
        var q = T("q", shape.QueryWidth); var k = T("k", shape.KvWidth); var v = T("v", shape.KvWidth);
        be.MatMul(norm, w["q"], WeightLayout.Linear, null, q);
        be.MatMul(norm, w["k"], WeightLayout.Linear, null, k);
        be.MatMul(norm, w["v"], WeightLayout.Linear, null, v);
        be.Rope(q, batch, heads, rope);
        be.Rope(k, batch, kvHeads, rope);
        be.StoreKv(k, v, cache.Keys(0), cache.Values(0), batch);
        var attn = T("attn", shape.QueryWidth);
        be.Attention(q, cache.Keys(0), cache.Values(0), batch, shape, attn);
        be.MatMul(attn, w["o"], WeightLayout.Linear, null, x, MatMulEpilogue.Accumulate);
        be.RmsNorm(x, w["ffn_norm"], 1e-5f, norm);
        var gate = T("gate", ff); var up = T("up", ff);
        be.MatMul(norm, w["gate"], WeightLayout.Linear, null, gate);
        be.MatMul(norm, w["up"], WeightLayout.Linear, null, up);
        be.SiluMul(gate, up, gate);
        be.MatMul(gate, w["down"], WeightLayout.Linear, null, x, MatMulEpilogue.Accumulate);
        return Head(be, w, batch, x, dim);
    }

    private static float[] Gpt2(IComputeBackend be, Dictionary<string, BackendTensor> w, KvCache cache, BackendBatch batch, BackendTensor x,
        int dim, int heads)
    {
        int hd = dim / heads, rows = batch.RowCount;
        var shape = new AttentionShape(heads, heads, hd, (float)(1 / Math.Sqrt(hd)));
        BackendTensor T(string n, long c) => be.Allocate(n, TensorDType.F32, rows, c);
        var pos = T("pos", dim);
        be.EmbeddingLookup(w["wpe"], batch, EmbeddingIndex.Position, pos);
        be.Add(x, pos, x);
        var norm = T("norm", dim);
        var qkv = T("qkv", 3 * dim);
        be.NormMatMul(x, RowNorm.Layer(w["ln1"], w["ln1_b"], 1e-5f), norm, w["c_attn"], WeightLayout.Conv1D, w["c_attn_b"], qkv);
        var q = be.ColumnView(qkv, 0, dim); var k = be.ColumnView(qkv, dim, dim); var v = be.ColumnView(qkv, 2 * dim, dim);
        be.StoreKv(k, v, cache.Keys(0), cache.Values(0), batch);
        var attn = T("attn", dim);
        be.Attention(q, cache.Keys(0), cache.Values(0), batch, shape, attn);
        be.MatMul(attn, w["c_proj"], WeightLayout.Conv1D, w["c_proj_b"], x, MatMulEpilogue.Accumulate);
        var fc = T("fc", 4 * dim);
        be.NormMatMul(x, RowNorm.Layer(w["ln2"], w["ln2_b"], 1e-5f), norm, w["c_fc"], WeightLayout.Conv1D, w["c_fc_b"], fc, MatMulEpilogue.GeluNew);
        be.MatMul(fc, w["c_proj2"], WeightLayout.Conv1D, w["c_proj2_b"], x, MatMulEpilogue.Accumulate);
        return Head(be, w, batch, x, dim);
    }

    /// <summary>Output rows → logits [outputs, vocab] (tied to the embedding) → softmax, downloaded.</summary>
    private static float[] Head(IComputeBackend be, Dictionary<string, BackendTensor> w, BackendBatch batch, BackendTensor x, int dim)
    {
        int outputs = batch.Host.OutputRows.Length;
        var picked = be.Allocate("picked", TensorDType.F32, outputs, dim);
        be.GatherRows(x, batch, picked);
        var logits = be.Allocate("logits", TensorDType.F32, outputs, w["embd"].Rows);
        be.MatMul(picked, w["embd"], WeightLayout.Linear, null, logits);
        be.Softmax(logits, logits);
        var hidden = new float[x.ElementCount];
        be.Download(x, hidden);
        var probs = new float[logits.ElementCount];
        be.Download(logits, probs);
        return hidden.Concat(probs).ToArray();
    }

    /// <summary>Prefill of two prompts (slots 1 and 0, interleaved) then decode steps, on both backends.</summary>
    private static void Compare(Weights weights, int vocab, int kvWidth, Func<IComputeBackend, Dictionary<string, BackendTensor>, KvCache, BackendBatch, BackendTensor, float[]> block, string what,
        bool fuseNorm = false)
    {
        var rng = new Random(61);
        var steps = new List<TokenBatch>
        {
            // 11 rows: above the GEMV limit, so the prefill products take cuBLAS (or the tiled GEMM).
            new([5, 9, 3, 7, 1, 8, 2, 4, 6, 0, 3], [0, 0, 1, 1, 2, 3, 4, 2, 5, 3, 6], [1, 0, 1, 0, 1, 1, 1, 0, 1, 0, 1], [9, 10]),
        };
        for (int s = 0; s < 3; s++)
            steps.Add(new TokenBatch([rng.Next(vocab), rng.Next(vocab)], [7 + s, 4 + s], [1, 0], [0, 1]));

        using var cpu = new CpuBackend();
        using var gpu = new CudaBackend(Gpu.Context) { FuseNormIntoGemv = fuseNorm };
        var results = new List<float[]>[] { new(), new() };
        var backends = new IComputeBackend[] { cpu, gpu };
        for (int b = 0; b < 2; b++)
        {
            var be = backends[b];
            var w = weights.On(be);
            using var cache = new KvCache(be, new KvCacheShape(1, kvWidth), 2, 16);
            foreach (var step in steps)
            {
                using var batch = be.PrepareBatch(step);
                var x = be.Allocate("x", TensorDType.F32, step.RowCount, w["embd"].Columns);
                be.EmbeddingLookup(w["embd"], batch, EmbeddingIndex.Token, x);
                results[b].Add(block(be, w, cache, batch, x));
            }
        }
        var failures = new List<string>();
        for (int s = 0; s < steps.Count; s++)
            if (KernelData.Mismatch(results[1][s], KernelData.ToDoubles(results[0][s]), MaxNmse, $"{what} step {s}") is string m) failures.Add(m);
        if (failures.Count > 0) Assert.Fail(string.Join(Environment.NewLine, failures));
    }

    [GpuTheory]
    [InlineData(KernelDType.F16)]
    [InlineData(KernelDType.BF16)]
    [InlineData(KernelDType.F32)]
    public void LlamaBlockMatchesTheCpuBackend(KernelDType type)
    {
        int dim = 96, heads = 6, kvHeads = 2, ff = 200, vocab = 51;
        var w = new Weights(new Random(67), type);
        w.Add("embd", 1, vocab, dim);
        foreach (var n in new[] { "attn_norm", "ffn_norm" }) w.Add(n, 1, dim);
        w.Add("q", 0.2, dim, dim);
        w.Add("k", 0.2, kvHeads * dim / heads, dim);
        w.Add("v", 0.2, kvHeads * dim / heads, dim);
        w.Add("o", 0.2, dim, dim);
        w.Add("gate", 0.2, ff, dim);
        w.Add("up", 0.2, ff, dim);
        w.Add("down", 0.1, dim, ff);
        var rope = new RotaryEmbedding(dim / heads, KernelReference.InvFreq(dim / heads, 10000));
        Compare(w, vocab, kvHeads * dim / heads, (be, ws, c, b, x) => Llama(be, ws, c, b, x, dim, heads, kvHeads, ff, rope), $"Llama {type}");
    }

    /// <summary>With the matrices stored as nn.Linear on the GPU, decode's LayerNorms run inside the qkv and fc GEMVs (NormMatMul fused).</summary>
    [GpuTheory]
    [InlineData(KernelDType.F16, false, false)]
    [InlineData(KernelDType.F32, false, false)]
    [InlineData(KernelDType.F16, true, false)]
    [InlineData(KernelDType.F16, true, true)]
    [InlineData(KernelDType.BF16, true, true)]
    public void Gpt2BlockMatchesTheCpuBackend(KernelDType type, bool storedAsLinear, bool fuseNorm)
    {
        int dim = 80, heads = 5, vocab = 43;
        var w = new Weights(new Random(71), type);
        w.Add("embd", 1, vocab, dim);
        w.Add("wpe", 1, 16, dim);
        foreach (var n in new[] { "ln1", "ln1_b", "ln2", "ln2_b" }) w.Add(n, 1, dim);
        w.Add("c_attn", 0.2, dim, 3 * dim);
        w.Add("c_attn_b", 0.2, 3 * dim);
        w.Add("c_proj", 0.2, dim, dim);
        w.Add("c_proj_b", 0.2, dim);
        w.Add("c_fc", 0.2, dim, 4 * dim);
        w.Add("c_fc_b", 0.2, 4 * dim);
        w.Add("c_proj2", 0.1, 4 * dim, dim);
        w.Add("c_proj2_b", 0.2, dim);
        if (storedAsLinear) w.StoredTransposedOnGpu.UnionWith(["c_attn", "c_proj", "c_fc", "c_proj2"]);
        Compare(w, vocab, dim, (be, ws, c, b, x) => Gpt2(be, ws, c, b, x, dim, heads),
            $"GPT-2 {type}{(storedAsLinear ? " stored as Linear" : "")}{(fuseNorm ? ", norms fused" : "")}", fuseNorm);
    }
}
