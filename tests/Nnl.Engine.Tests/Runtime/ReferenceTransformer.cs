using Nnl.Engine.Tests.Models;

namespace Nnl.Engine.Tests.Runtime;

/// <summary>
/// An independent float64 forward pass written with naive loops straight from the published model
/// definitions (GPT-2 and Llama/Mistral/Qwen2 as transformers implements them), no KV cache: the
/// whole sequence is recomputed every time. Slow and obvious on purpose: it is the yardstick.
/// </summary>
internal static class ReferenceTransformer
{
    /// <summary>Logits [position][vocab] for every position of <paramref name="tokens"/>.</summary>
    public static double[][] Logits(TestModel model, IReadOnlyList<int> tokens) =>
        model.Gpt2 is not null ? Gpt2(model, model.Gpt2, tokens) : Llama(model, model.Llama!, tokens);

    private static double[][] Gpt2(TestModel m, Gpt2Shape s, IReadOnlyList<int> tokens)
    {
        var p = s.TransformerPrefix ? "transformer." : "";
        int n = tokens.Count, h = s.Hidden, d = h / s.Heads;
        var x = new double[n][];
        for (var t = 0; t < n; t++)
            x[t] = Enumerable.Range(0, h).Select(i => (double)m.W(p + "wte.weight")[tokens[t] * h + i] + m.W(p + "wpe.weight")[t * h + i]).ToArray();

        for (var l = 0; l < s.Layers; l++)
        {
            var b = $"{p}h.{l}.";
            var a = x.Select(r => LayerNorm(r, m.W(b + "ln_1.weight"), m.W(b + "ln_1.bias"), s.Epsilon)).ToArray();
            var qkv = a.Select(r => Conv1D(r, m.W(b + "attn.c_attn.weight"), m.W(b + "attn.c_attn.bias"), 3 * h)).ToArray();
            var q = qkv.Select(r => r[..h]).ToArray();
            var k = qkv.Select(r => r[h..(2 * h)]).ToArray();
            var v = qkv.Select(r => r[(2 * h)..]).ToArray();
            var att = Attention(q, k, v, s.Heads, s.Heads, d, null);
            for (var t = 0; t < n; t++)
            {
                var o = Conv1D(att[t], m.W(b + "attn.c_proj.weight"), m.W(b + "attn.c_proj.bias"), h);
                for (var i = 0; i < h; i++) x[t][i] += o[i];
                var mm = LayerNorm(x[t], m.W(b + "ln_2.weight"), m.W(b + "ln_2.bias"), s.Epsilon);
                var f = Conv1D(mm, m.W(b + "mlp.c_fc.weight"), m.W(b + "mlp.c_fc.bias"), s.InnerSize).Select(GeluNew).ToArray();
                var y = Conv1D(f, m.W(b + "mlp.c_proj.weight"), m.W(b + "mlp.c_proj.bias"), h);
                for (var i = 0; i < h; i++) x[t][i] += y[i];
            }
        }
        var head = s.Tied ? m.W(p + "wte.weight") : m.W("lm_head.weight");
        return x.Select(r => Linear(LayerNorm(r, m.W(p + "ln_f.weight"), m.W(p + "ln_f.bias"), s.Epsilon), head, null, s.Vocab)).ToArray();
    }

    private static double[][] Llama(TestModel m, LlamaShape s, IReadOnlyList<int> tokens)
    {
        int n = tokens.Count, h = s.Hidden, d = s.HeadSize, qw = s.Heads * d, kw = s.KvHeads * d;
        var embed = m.W("model.embed_tokens.weight");
        var x = new double[n][];
        for (var t = 0; t < n; t++) x[t] = Enumerable.Range(0, h).Select(i => (double)embed[tokens[t] * h + i]).ToArray();
        var inv = InverseFrequencies(s);

        for (var l = 0; l < s.Layers; l++)
        {
            var b = $"model.layers.{l}.";
            float[]? Bias(string name) => m.Has(b + name) ? m.W(b + name) : null;
            var a = x.Select(r => RmsNorm(r, m.W(b + "input_layernorm.weight"), s.Epsilon)).ToArray();
            var q = a.Select(r => Linear(r, m.W(b + "self_attn.q_proj.weight"), Bias("self_attn.q_proj.bias"), qw)).ToArray();
            var k = a.Select(r => Linear(r, m.W(b + "self_attn.k_proj.weight"), Bias("self_attn.k_proj.bias"), kw)).ToArray();
            var v = a.Select(r => Linear(r, m.W(b + "self_attn.v_proj.weight"), Bias("self_attn.v_proj.bias"), kw)).ToArray();
            for (var t = 0; t < n; t++)
            {
                Rotate(q[t], s.Heads, d, t, inv);
                Rotate(k[t], s.KvHeads, d, t, inv);
            }
            var att = Attention(q, k, v, s.Heads, s.KvHeads, d, s.Architecture == "MistralForCausalLM" ? s.SlidingWindow : null);
            for (var t = 0; t < n; t++)
            {
                var o = Linear(att[t], m.W(b + "self_attn.o_proj.weight"), Bias("self_attn.o_proj.bias"), h);
                for (var i = 0; i < h; i++) x[t][i] += o[i];
                var mm = RmsNorm(x[t], m.W(b + "post_attention_layernorm.weight"), s.Epsilon);
                var gate = Linear(mm, m.W(b + "mlp.gate_proj.weight"), null, s.Intermediate);
                var up = Linear(mm, m.W(b + "mlp.up_proj.weight"), null, s.Intermediate);
                var act = gate.Select((g, i) => g / (1 + Math.Exp(-g)) * up[i]).ToArray();
                var y = Linear(act, m.W(b + "mlp.down_proj.weight"), null, h);
                for (var i = 0; i < h; i++) x[t][i] += y[i];
            }
        }
        var head = s.Tied ? embed : m.W("lm_head.weight");
        return x.Select(r => Linear(RmsNorm(r, m.W("model.norm.weight"), s.Epsilon), head, null, s.Vocab)).ToArray();
    }

    /// <summary>θ^(−2i/d), with Llama 3.1's wavelength-dependent scaling when configured.</summary>
    public static double[] InverseFrequencies(LlamaShape s)
    {
        var d = s.HeadSize;
        var inv = new double[d / 2];
        for (var i = 0; i < inv.Length; i++)
        {
            var f = Math.Pow(s.Theta, -2.0 * i / d);
            if (s.Llama3Scaling)
            {
                double low = 1, high = 4, old = s.OriginalMaxPositions;
                var wavelength = 2 * Math.PI / f;
                if (wavelength > old / low) f /= s.ScalingFactor;
                else if (wavelength >= old / high)
                {
                    var smooth = (old / wavelength - low) / (high - low);
                    f = (1 - smooth) * f / s.ScalingFactor + smooth * f;
                }
            }
            inv[i] = f;
        }
        return inv;
    }

    private static void Rotate(double[] x, int heads, int d, int position, double[] inv)
    {
        for (var hh = 0; hh < heads; hh++)
            for (var i = 0; i < d / 2; i++)
            {
                var a = x[hh * d + i];
                var b = x[hh * d + i + d / 2];
                var c = Math.Cos(position * inv[i]);
                var sn = Math.Sin(position * inv[i]);
                x[hh * d + i] = a * c - b * sn;
                x[hh * d + i + d / 2] = b * c + a * sn;
            }
    }

    /// <summary>Causal attention; with a sliding window W a query at t sees keys u with t − W &lt; u ≤ t.</summary>
    private static double[][] Attention(double[][] q, double[][] k, double[][] v, int heads, int kvHeads, int d, int? window)
    {
        var n = q.Length;
        var outp = new double[n][];
        for (var t = 0; t < n; t++)
        {
            outp[t] = new double[heads * d];
            for (var hh = 0; hh < heads; hh++)
            {
                var g = hh / (heads / kvHeads);
                var scores = new double[t + 1];
                for (var u = 0; u <= t; u++)
                {
                    if (window is { } w && u <= t - w) { scores[u] = double.NegativeInfinity; continue; }
                    double dot = 0;
                    for (var i = 0; i < d; i++) dot += q[t][hh * d + i] * k[u][g * d + i];
                    scores[u] = dot / Math.Sqrt(d);
                }
                var max = scores.Max();
                var e = scores.Select(z => Math.Exp(z - max)).ToArray();
                var sum = e.Sum();
                for (var u = 0; u <= t; u++)
                    for (var i = 0; i < d; i++) outp[t][hh * d + i] += e[u] / sum * v[u][g * d + i];
            }
        }
        return outp;
    }

    private static double[] LayerNorm(double[] x, float[] g, float[] b, double eps)
    {
        var mean = x.Average();
        var variance = x.Select(v => (v - mean) * (v - mean)).Average();
        return x.Select((v, i) => (v - mean) / Math.Sqrt(variance + eps) * g[i] + b[i]).ToArray();
    }

    private static double[] RmsNorm(double[] x, float[] g, double eps)
    {
        var ms = x.Select(v => v * v).Average();
        return x.Select((v, i) => v / Math.Sqrt(ms + eps) * g[i]).ToArray();
    }

    /// <summary>y = x · W with W [in, out] (GPT-2 Conv1D).</summary>
    private static double[] Conv1D(double[] x, float[] w, float[] bias, int outFeatures)
    {
        var y = new double[outFeatures];
        for (var o = 0; o < outFeatures; o++)
        {
            double acc = bias[o];
            for (var i = 0; i < x.Length; i++) acc += x[i] * w[i * outFeatures + o];
            y[o] = acc;
        }
        return y;
    }

    /// <summary>y = W · x with W [out, in] (nn.Linear).</summary>
    private static double[] Linear(double[] x, float[] w, float[]? bias, int outFeatures)
    {
        var y = new double[outFeatures];
        for (var o = 0; o < outFeatures; o++)
        {
            double acc = bias?[o] ?? 0;
            for (var i = 0; i < x.Length; i++) acc += x[i] * w[o * x.Length + i];
            y[o] = acc;
        }
        return y;
    }

    private static double GeluNew(double x) => 0.5 * x * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));

    /// <summary>max |a − b| / max |b| over one row: the relative error the parity bar (1e-4) is stated in.</summary>
    public static double RelativeError(ReadOnlySpan<float> actual, IReadOnlyList<double> expected)
    {
        double maxDiff = 0, maxRef = 0;
        for (var i = 0; i < expected.Count; i++)
        {
            maxDiff = Math.Max(maxDiff, Math.Abs(actual[i] - expected[i]));
            maxRef = Math.Max(maxRef, Math.Abs(expected[i]));
        }
        return maxDiff / Math.Max(maxRef, 1e-30);
    }
}
