namespace Nnl.Engine.Tests.Kernels;

/// <summary>
/// Float64 reference implementations of the GPU kernels, written from the operations' definitions
/// (HF transformers semantics), not from the kernels: the GPU tests compare each kernel with these on
/// fresh random inputs. Inputs are the exact values the kernel sees (weights already rounded to their
/// storage type), so a difference is the kernel's fp32 arithmetic or a bug.
/// Layouts are row-major and match kernels/README.md.
/// </summary>
internal static class KernelReference
{
    /// <summary>out[t, :] = table[tokens[t], :] (+ posTable[positions[t], :]).</summary>
    public static double[] Embedding(int[] tokens, double[] table, int dim, double[]? posTable, int[]? positions)
    {
        var o = new double[tokens.Length * dim];
        for (int t = 0; t < tokens.Length; t++)
            for (int d = 0; d < dim; d++)
                o[t * dim + d] = table[(long)tokens[t] * dim + d] + (posTable is null ? 0.0 : posTable[(long)positions![t] * dim + d]);
        return o;
    }

    /// <summary>torch.nn.LayerNorm over the last dimension (biased variance).</summary>
    public static double[] LayerNorm(double[] x, int rows, int dim, double[] weight, double[]? bias, double eps)
    {
        var y = new double[rows * dim];
        for (int r = 0; r < rows; r++)
        {
            double mean = 0, var = 0;
            for (int i = 0; i < dim; i++) mean += x[r * dim + i];
            mean /= dim;
            for (int i = 0; i < dim; i++) { double d = x[r * dim + i] - mean; var += d * d; }
            var /= dim;
            double rstd = 1.0 / Math.Sqrt(var + eps);
            for (int i = 0; i < dim; i++)
                y[r * dim + i] = (x[r * dim + i] - mean) * rstd * weight[i] + (bias?[i] ?? 0.0);
        }
        return y;
    }

    /// <summary>Llama RMSNorm: x / sqrt(mean(x²) + eps) · weight.</summary>
    public static double[] RmsNorm(double[] x, int rows, int dim, double[] weight, double eps)
    {
        var y = new double[rows * dim];
        for (int r = 0; r < rows; r++)
        {
            double ss = 0;
            for (int i = 0; i < dim; i++) ss += x[r * dim + i] * x[r * dim + i];
            double rstd = 1.0 / Math.Sqrt(ss / dim + eps);
            for (int i = 0; i < dim; i++) y[r * dim + i] = x[r * dim + i] * rstd * weight[i];
        }
        return y;
    }

    /// <summary>
    /// HF Llama apply_rotary_pos_emb: x·cos + rotate_half(x)·sin on the first rotDim dims of each head,
    /// cos/sin of (position · inv_freq) with the product rounded to fp32 as HF computes it (the only
    /// fp32 step, by definition of the model), everything else in float64.
    /// </summary>
    public static double[] Rope(double[] x, int nTok, int rowStride, int[] positions, float[] invFreq, int nHeads, int headDim, int rotDim)
    {
        var y = (double[])x.Clone();
        int half = rotDim / 2;
        for (int t = 0; t < nTok; t++)
            for (int h = 0; h < nHeads; h++)
            {
                int b = t * rowStride + h * headDim;
                for (int i = 0; i < half; i++)
                {
                    double angle = (float)positions[t] * invFreq[i];
                    angle = (float)angle;
                    double c = Math.Cos(angle), s = Math.Sin(angle);
                    double x1 = x[b + i], x2 = x[b + i + half];
                    y[b + i] = x1 * c - x2 * s;
                    y[b + i + half] = x2 * c + x1 * s;
                }
            }
        return y;
    }

    /// <summary>Llama's default inv_freq: 1 / base^(2i/rotDim), computed in fp32 as HF does.</summary>
    public static float[] InvFreq(int rotDim, double theta)
    {
        var f = new float[rotDim / 2];
        for (int i = 0; i < f.Length; i++) f[i] = (float)(1.0 / Math.Pow(theta, 2.0 * i / rotDim));
        return f;
    }

    /// <summary>
    /// Causal grouped-query attention over a cache for one sequence: query t (head h) attends to cache
    /// rows 0..positions[t] of kv head h / (nHeads / nKvHeads), softmax(q·k·scale)·v.
    /// q: [nTok, qStride]; caches: [rows, nKvHeads·headDim]; out: [nTok, nHeads·headDim].
    /// </summary>
    public static double[] Attention(double[] q, int nTok, int qStride, double[] kCache, double[] vCache, int[] positions,
        int nHeads, int nKvHeads, int headDim, double scale, int? window = null)
    {
        int kvDim = nKvHeads * headDim, group = nHeads / nKvHeads;
        var o = new double[nTok * nHeads * headDim];
        for (int t = 0; t < nTok; t++)
            for (int h = 0; h < nHeads; h++)
            {
                // Positions first..p are visible: first = 0, or p - window + 1 with a sliding window.
                int kvh = h / group, first = window is { } w ? Math.Max(0, positions[t] - w + 1) : 0, n = positions[t] + 1 - first;
                var s = new double[n];
                for (int j = 0; j < n; j++)
                {
                    double dot = 0;
                    for (int d = 0; d < headDim; d++) dot += q[t * qStride + h * headDim + d] * kCache[(long)(first + j) * kvDim + kvh * headDim + d];
                    s[j] = dot * scale;
                }
                var p = Softmax(s, 1, n);
                for (int d = 0; d < headDim; d++)
                {
                    double a = 0;
                    for (int j = 0; j < n; j++) a += p[j] * vCache[(long)(first + j) * kvDim + kvh * headDim + d];
                    o[(t * nHeads + h) * headDim + d] = a;
                }
            }
        return o;
    }

    public static double[] Softmax(double[] x, int rows, int cols)
    {
        var y = new double[rows * cols];
        for (int r = 0; r < rows; r++)
        {
            double m = double.NegativeInfinity, sum = 0;
            for (int i = 0; i < cols; i++) m = Math.Max(m, x[r * cols + i]);
            for (int i = 0; i < cols; i++) sum += y[r * cols + i] = Math.Exp(x[r * cols + i] - m);
            for (int i = 0; i < cols; i++) y[r * cols + i] /= sum;
        }
        return y;
    }

    /// <summary>Index of the first largest value of each row (torch.argmax).</summary>
    public static int[] Argmax(double[] x, int rows, int cols)
    {
        var o = new int[rows];
        for (int r = 0; r < rows; r++)
            for (int i = 1; i < cols; i++)
                if (x[r * cols + i] > x[r * cols + o[r]]) o[r] = i;
        return o;
    }

    /// <summary>HF gelu_new: 0.5·x·(1 + tanh(sqrt(2/π)·(x + 0.044715·x³))).</summary>
    public static double GeluNew(double x) => 0.5 * x * (1.0 + Math.Tanh(Math.Sqrt(2.0 / Math.PI) * (x + 0.044715 * x * x * x)));

    public static double Silu(double x) => x / (1.0 + Math.Exp(-x));

    public static double[] Map(double[] x, Func<double, double> f) => x.Select(f).ToArray();

    /// <summary>y[t, j] = Σ_i w[j, i]·x[t, i] + bias[j] (+ y0[t, j]); w is [nOut, k] (nn.Linear).</summary>
    public static double[] Linear(double[] x, int nTok, int k, double[] w, int nOut, double[]? bias, double[]? accumulateInto)
    {
        var y = new double[nTok * nOut];
        for (int t = 0; t < nTok; t++)
            for (int j = 0; j < nOut; j++)
            {
                double s = bias?[j] ?? 0.0;
                for (int i = 0; i < k; i++) s += w[(long)j * k + i] * x[(long)t * k + i];
                y[t * nOut + j] = s + (accumulateInto?[t * nOut + j] ?? 0.0);
            }
        return y;
    }

    public static double[] Transpose(double[] x, int rows, int cols)
    {
        var y = new double[x.Length];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++) y[c * rows + r] = x[r * cols + c];
        return y;
    }
}
