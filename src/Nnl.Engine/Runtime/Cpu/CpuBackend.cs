using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using Nnl.Engine.Models;

namespace Nnl.Engine.Runtime.Cpu;

/// <summary>
/// The reference backend: F32 on the host, SIMD through TensorPrimitives, matrix products and
/// attention spread over all cores. F16/BF16 weights are widened to F32 once, in
/// <see cref="CreateWeight"/>. Clarity first: every operation is the textbook loop.
/// </summary>
public sealed class CpuBackend : IComputeBackend
{
    private long _allocatedBytes;
    private long _peakBytes;

    public CpuBackend(int? maxThreads = null)
    {
        Parallelism = new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, maxThreads ?? Environment.ProcessorCount) };
    }

    public string Name => "Cpu";
    internal ParallelOptions Parallelism { get; }

    /// <summary>Bytes held by live tensors of this backend.</summary>
    public long AllocatedBytes => Interlocked.Read(ref _allocatedBytes);
    public long PeakBytes => Interlocked.Read(ref _peakBytes);

    public bool Supports(BackendOperation operation, TensorDType weightType) => true;

    // ---- memory ----

    public BackendTensor Allocate(string name, TensorDType dtype, params long[] shape)
    {
        if (dtype != TensorDType.F32) throw new NnlArgumentException(nameof(dtype), $"The CPU backend computes in F32; {name} asked for {dtype}.");
        foreach (var d in shape)
            if (d <= 0) throw new NnlArgumentException(nameof(shape), $"{name}: dimension {d} is not positive.");
        var t = new CpuTensor(name, shape.ToArray());
        Track(t.ByteCount);
        return t;
    }

    public void Release(BackendTensor tensor)
    {
        if (tensor is CpuTensor { Released: true }) throw new InvalidOperationException($"{tensor.Name} was released twice.");
        var t = CpuOrView(tensor);
        if (t.ViewOf is null) Track(-t.ByteCount); // a view owns nothing
        t.Release();
    }

    public BackendTensor CreateWeight(TensorInfo info, WeightBytes data)
    {
        var shape = info.Shape.Length == 0 ? new long[] { 1 } : info.Shape.ToArray();
        var t = new CpuTensor(info.Name, shape) { SourceDType = info.DType };
        WeightConversion.ToSingle(info.DType, data, t.Data);
        Track(t.ByteCount);
        return t;
    }

    public void Upload(BackendTensor destination, ReadOnlySpan<float> source)
    {
        var t = Cpu(destination);
        if (source.Length != t.Data.Length) throw new ArgumentException($"{t.Name} holds {t.Data.Length} values, not {source.Length}.");
        source.CopyTo(t.Data);
    }

    public void Download(BackendTensor source, Span<float> destination)
    {
        var t = Cpu(source);
        if (destination.Length != t.Data.Length) throw new ArgumentException($"{t.Name} holds {t.Data.Length} values, not {destination.Length}.");
        t.Data.CopyTo(destination);
    }

    public void Synchronize() { }

    public BackendBatch PrepareBatch(TokenBatch batch) => new CpuBatch(batch);

    // ---- operations ----

    public void EmbeddingLookup(BackendTensor table, BackendBatch batch, EmbeddingIndex index, BackendTensor output)
    {
        var w = Cpu(table);
        var y = Cpu(output);
        RequireRows(y, batch.RowCount);
        RequireColumns(y, w.Columns, "embedding output");
        var indices = index == EmbeddingIndex.Token ? batch.Host.TokenIds : batch.Host.Positions;
        for (var r = 0; r < indices.Length; r++)
        {
            var i = indices[r];
            if ((uint)i >= (ulong)w.Rows)
                throw new NnlArgumentException(index == EmbeddingIndex.Token ? "tokenIds" : "positions",
                    $"{(index == EmbeddingIndex.Token ? "token id" : "position")} {i} is outside {w.Name} ({w.Rows} rows).");
            w.Row(i).CopyTo(y.Row(r));
        }
    }

    public void LayerNorm(BackendTensor x, BackendTensor weight, BackendTensor? bias, float epsilon, BackendTensor output)
    {
        var a = Cpu(x);
        var y = Cpu(output);
        var g = Cpu(weight).Data.AsSpan(0, (int)a.Columns);
        var b = bias is null ? default : Cpu(bias).Data.AsSpan(0, (int)a.Columns);
        SameShape(a, y);
        for (long r = 0; r < a.Rows; r++)
        {
            var row = a.Row(r);
            var dst = y.Row(r);
            double mean = 0;
            foreach (var v in row) mean += v;
            mean /= row.Length;
            double variance = 0;
            foreach (var v in row) variance += (v - mean) * (v - mean);
            variance /= row.Length;
            var inv = 1.0 / Math.Sqrt(variance + epsilon);
            for (var i = 0; i < row.Length; i++)
                dst[i] = (float)((row[i] - mean) * inv) * g[i] + (bias is null ? 0f : b[i]);
        }
    }

    public void RmsNorm(BackendTensor x, BackendTensor weight, float epsilon, BackendTensor output)
    {
        var a = Cpu(x);
        var y = Cpu(output);
        var g = Cpu(weight).Data.AsSpan(0, (int)a.Columns);
        SameShape(a, y);
        for (long r = 0; r < a.Rows; r++)
        {
            var row = a.Row(r);
            var dst = y.Row(r);
            double sumSquares = 0;
            foreach (var v in row) sumSquares += (double)v * v;
            var inv = (float)(1.0 / Math.Sqrt(sumSquares / row.Length + epsilon));
            for (var i = 0; i < row.Length; i++) dst[i] = g[i] * (row[i] * inv);
        }
    }

    public void MatMul(BackendTensor x, BackendTensor weight, WeightLayout layout, BackendTensor? bias, BackendTensor output,
        MatMulEpilogue epilogue = MatMulEpilogue.None)
    {
        var a = Cpu(x);
        var w = Cpu(weight);
        var y = Cpu(output);
        if (ReferenceEquals(a, y)) throw new ArgumentException("MatMul output may not alias its input.");
        var rows = (int)a.Rows;
        var inFeatures = (int)a.Columns;
        var (wIn, wOut) = layout == WeightLayout.Linear ? (w.Columns, w.Rows) : (w.Rows, w.Columns);
        if (wIn != inFeatures) throw new ArgumentException($"MatMul: {a.Name} has {inFeatures} columns but {w.Name} ({layout}) takes {wIn} inputs.");
        RequireRows(y, rows);
        RequireColumns(y, wOut, "MatMul output");
        var outFeatures = (int)wOut;
        var biasData = bias is null ? null : Cpu(bias).Data;
        if (biasData is not null && biasData.Length != outFeatures) throw new ArgumentException($"MatMul: bias {bias!.Name} has {biasData.Length} values for {outFeatures} outputs.");
        if (!Enum.IsDefined(epilogue)) throw new NnlArgumentException(nameof(epilogue), $"MatMul: unknown epilogue {epilogue}.");

        var xd = a.Data;
        var wd = w.Data;
        var yd = y.Data;
        // Blocks of output features, each task covering every row: the weight block is read once per task.
        const int block = 64;
        var blocks = (outFeatures + block - 1) / block;
        if (layout == WeightLayout.Linear)
        {
            Parallel.For(0, blocks, Parallelism, bi =>
            {
                var o0 = bi * block;
                var o1 = Math.Min(outFeatures, o0 + block);
                for (var r = 0; r < rows; r++)
                {
                    var xr = new ReadOnlySpan<float>(xd, r * inFeatures, inFeatures);
                    for (var o = o0; o < o1; o++)
                    {
                        var dot = TensorPrimitives.Dot(xr, new ReadOnlySpan<float>(wd, o * inFeatures, inFeatures));
                        var s = dot + (biasData is null ? 0f : biasData[o]);
                        ref var yo = ref yd[r * outFeatures + o];
                        // The same arithmetic, in the same order, as MatMul then Add / GeluNew.
                        yo = epilogue switch
                        {
                            MatMulEpilogue.Accumulate => yo + s,
                            MatMulEpilogue.GeluNew => Gelu(s),
                            _ => s,
                        };
                    }
                }
            });
        }
        else
        {
            // Conv1D [in, out]: y[r, o0..o1] = Σ_i x[r, i] · W[i, o0..o1].
            // An epilogue other than None sums into a block-sized scratch row first, then applies it.
            Parallel.For(0, blocks, Parallelism, () => epilogue == MatMulEpilogue.None ? null : new float[block], (bi, _, scratch) =>
            {
                var o0 = bi * block;
                var width = Math.Min(outFeatures, o0 + block) - o0;
                for (var r = 0; r < rows; r++)
                {
                    var yr = new Span<float>(yd, r * outFeatures + o0, width);
                    var sr = scratch is null ? yr : scratch.AsSpan(0, width);
                    if (biasData is null) sr.Clear();
                    else biasData.AsSpan(o0, width).CopyTo(sr);
                    for (var i = 0; i < inFeatures; i++)
                    {
                        var xv = xd[r * inFeatures + i];
                        TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(wd, i * outFeatures + o0, width), xv, sr, sr);
                    }
                    if (epilogue == MatMulEpilogue.Accumulate) TensorPrimitives.Add(yr, sr, yr);
                    else if (epilogue == MatMulEpilogue.GeluNew)
                        for (var j = 0; j < width; j++) yr[j] = Gelu(sr[j]);
                }
                return scratch;
            }, _ => { });
        }
    }

    /// <summary>The six operations it stands for, in order: the reference the whole-block kernel is compared with.</summary>
    public void DecoderBlock(BackendTensor x, DecoderBlockWeights weights, DecoderBlockScratch scratch,
        BackendTensor kCache, BackendTensor vCache, BackendBatch batch, AttentionShape shape) =>
        DecoderBlockComposition.Compose(this, x, weights, scratch, kCache, vCache, batch, shape);

    /// <summary>The two operations it stands for, in order: the reference every fused kernel is compared with.</summary>
    public void NormMatMul(BackendTensor x, RowNorm norm, BackendTensor normOutput, BackendTensor weight, WeightLayout layout, BackendTensor? bias,
        BackendTensor output, MatMulEpilogue epilogue = MatMulEpilogue.None)
    {
        norm.Validate(nameof(NormMatMul));
        if (norm.Kind == NormKind.LayerNorm) LayerNorm(x, norm.Weight, norm.Bias, norm.Epsilon, normOutput);
        else RmsNorm(x, norm.Weight, norm.Epsilon, normOutput);
        MatMul(normOutput, weight, layout, bias, output, epilogue);
    }

    public BackendTensor ColumnView(BackendTensor source, long columnOffset, long columns)
    {
        var s = CpuOrView(source);
        if (s.Shape.Length != 2) throw new NnlArgumentException(nameof(source), $"ColumnView: {s} is not a [rows, columns] activation.");
        if (columnOffset < 0 || columns <= 0 || columnOffset + columns > s.Columns)
            throw new NnlArgumentException(nameof(columnOffset), $"ColumnView: columns {columnOffset}..{columnOffset + columns} are outside {s.Name} ({s.Columns} columns).");
        return new CpuTensor(s, columnOffset, columns);
    }

    public void Rope(BackendTensor x, BackendBatch batch, int headCount, RotaryEmbedding rope)
    {
        var a = CpuOrView(x);
        RequireRows(a, batch.RowCount);
        RequireColumns(a, (long)headCount * rope.HeadDim, "rotary input");
        var half = rope.RotaryDim / 2;
        var cos = new float[half];
        var sin = new float[half];
        for (var r = 0; r < a.Rows; r++)
        {
            var position = batch.Host.Positions[r];
            for (var i = 0; i < half; i++)
            {
                // The angle is rounded to F32 as transformers computes it (inv_freq @ positions in float32).
                var angle = position * rope.InverseFrequencies[i];
                cos[i] = (float)Math.Cos(angle) * rope.AttentionFactor;
                sin[i] = (float)Math.Sin(angle) * rope.AttentionFactor;
            }
            var row = a.Row(r);
            for (var h = 0; h < headCount; h++)
            {
                var head = row.Slice(h * rope.HeadDim, rope.HeadDim);
                for (var i = 0; i < half; i++)
                {
                    var p = head[i];
                    var q = head[i + half];
                    head[i] = p * cos[i] - q * sin[i];
                    head[i + half] = q * cos[i] + p * sin[i];
                }
            }
        }
    }

    public void StoreKv(BackendTensor k, BackendTensor v, BackendTensor kCache, BackendTensor vCache, BackendBatch batch)
    {
        var kk = CpuOrView(k);
        var vv = CpuOrView(v);
        var kc = Cpu(kCache);
        var vc = Cpu(vCache);
        var (slots, capacity, width) = CacheShape(kc);
        RequireColumns(kk, width, "keys");
        RequireColumns(vv, width, "values");
        for (var r = 0; r < batch.RowCount; r++)
        {
            var s = batch.Host.Slots[r];
            var p = batch.Host.Positions[r];
            if ((uint)s >= (uint)slots || (uint)p >= (uint)capacity)
                throw new ArgumentOutOfRangeException(nameof(batch), $"Row {r} (slot {s}, position {p}) is outside the cache [{slots}, {capacity}].");
            var at = ((long)s * capacity + p) * width;
            kk.Row(r).CopyTo(kc.Data.AsSpan((int)at, (int)width));
            vv.Row(r).CopyTo(vc.Data.AsSpan((int)at, (int)width));
        }
    }

    public void Attention(BackendTensor q, BackendTensor kCache, BackendTensor vCache, BackendBatch batch, AttentionShape shape, BackendTensor output)
    {
        var qq = CpuOrView(q);
        var kc = Cpu(kCache);
        var vc = Cpu(vCache);
        var y = Cpu(output);
        var (_, capacity, width) = CacheShape(kc);
        if (width != shape.KvWidth) throw new ArgumentException($"Cache width {width} is not {shape.KvWidth}.");
        RequireColumns(qq, shape.QueryWidth, "queries");
        SameShape(qq, y);
        var rows = batch.RowCount;
        var d = shape.HeadDim;
        Parallel.For(0, rows * shape.HeadCount, Parallelism, () => new float[capacity], (task, _, scores) =>
        {
            var r = task / shape.HeadCount;
            var h = task % shape.HeadCount;
            var g = h / shape.GroupSize;
            var s = batch.Host.Slots[r];
            var first = shape.FirstVisiblePosition(batch.Host.Positions[r]);
            var context = batch.Host.Positions[r] + 1 - first;
            var qh = new ReadOnlySpan<float>(qq.Data, qq.Offset + (int)(r * qq.RowStride) + h * d, d);
            var baseAt = ((long)s * capacity + first) * width + (long)g * d;
            for (var t = 0; t < context; t++)
                scores[t] = shape.Scale * TensorPrimitives.Dot(qh, new ReadOnlySpan<float>(kc.Data, (int)(baseAt + (long)t * width), d));
            var probabilities = scores.AsSpan(0, context);
            TensorPrimitives.SoftMax(probabilities, probabilities);
            var yh = new Span<float>(y.Data, r * shape.QueryWidth + h * d, d);
            yh.Clear();
            for (var t = 0; t < context; t++)
                TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(vc.Data, (int)(baseAt + (long)t * width), d), probabilities[t], yh, yh);
            return scores;
        }, _ => { });
    }

    public void Softmax(BackendTensor x, BackendTensor output)
    {
        var a = Cpu(x);
        var y = Cpu(output);
        SameShape(a, y);
        for (long r = 0; r < a.Rows; r++) TensorPrimitives.SoftMax(a.Row(r), y.Row(r));
    }

    public void GeluNew(BackendTensor x, BackendTensor output)
    {
        var a = Cpu(x).Data;
        var y = Cpu(output).Data;
        if (a.Length != y.Length) throw new ArgumentException("GeluNew: shapes differ.");
        for (var i = 0; i < a.Length; i++) y[i] = Gelu(a[i]);
    }

    /// <summary>gelu_new of one value (the operation and MatMul's epilogue share it, so they agree bit for bit).</summary>
    private static float Gelu(float v)
    {
        const float c = 0.7978845608028654f; // sqrt(2 / pi)
        return 0.5f * v * (1f + MathF.Tanh(c * (v + 0.044715f * v * v * v)));
    }

    public void SiluMul(BackendTensor gate, BackendTensor up, BackendTensor output)
    {
        var g = Cpu(gate).Data;
        var u = Cpu(up).Data;
        var y = Cpu(output).Data;
        if (g.Length != u.Length || g.Length != y.Length) throw new ArgumentException("SiluMul: shapes differ.");
        for (var i = 0; i < g.Length; i++)
        {
            var v = g[i];
            y[i] = v / (1f + MathF.Exp(-v)) * u[i];
        }
    }

    public void Add(BackendTensor a, BackendTensor b, BackendTensor output)
    {
        var x = Cpu(a);
        var z = Cpu(b);
        var y = Cpu(output);
        SameShape(x, z);
        SameShape(x, y);
        TensorPrimitives.Add(x.Data, z.Data, y.Data);
    }

    public void SliceColumns(BackendTensor source, long columnOffset, BackendTensor output)
    {
        var s = Cpu(source);
        var y = Cpu(output);
        RequireRows(y, s.Rows);
        if (columnOffset < 0 || columnOffset + y.Columns > s.Columns)
            throw new ArgumentOutOfRangeException(nameof(columnOffset), $"Columns {columnOffset}..{columnOffset + y.Columns} are outside {s.Name} ({s.Columns}).");
        for (long r = 0; r < s.Rows; r++) s.Row(r).Slice((int)columnOffset, (int)y.Columns).CopyTo(y.Row(r));
    }

    public void GatherRows(BackendTensor source, BackendBatch batch, BackendTensor output)
    {
        var s = Cpu(source);
        var y = Cpu(output);
        var rows = batch.Host.OutputRows;
        RequireRows(y, rows.Length);
        RequireColumns(y, s.Columns, "gathered rows");
        for (var i = 0; i < rows.Length; i++) s.Row(rows[i]).CopyTo(y.Row(i));
    }

    public void Dispose() { }

    // ---- helpers ----

    private void Track(long bytes)
    {
        var now = Interlocked.Add(ref _allocatedBytes, bytes);
        long peak;
        while (now > (peak = Interlocked.Read(ref _peakBytes)) && Interlocked.CompareExchange(ref _peakBytes, now, peak) != peak) { }
    }

    /// <summary>A whole tensor of this backend (a column view is rejected: the operation reads Data densely).</summary>
    private static CpuTensor Cpu(BackendTensor t, [CallerMemberName] string operation = "")
    {
        var c = CpuOrView(t);
        if (c.ViewOf is not null)
            throw new NnlArgumentException("tensor", $"{operation}: {c.Name} is a column view; only Rope, StoreKv and Attention take views (SliceColumns copies columns out).");
        return c;
    }

    /// <summary>A tensor of this backend, whole or a column view (<see cref="CpuTensor.Row"/> honours both).</summary>
    private static CpuTensor CpuOrView(BackendTensor t)
    {
        if (t is not CpuTensor c) throw new ArgumentException($"{t.Name} does not belong to the CPU backend.");
        if (c.Released) throw new ObjectDisposedException(c.Name, $"{c.Name} was released.");
        return c;
    }

    private static (long Slots, long Capacity, long Width) CacheShape(CpuTensor cache) =>
        cache.Shape.Length == 3 ? (cache.Shape[0], cache.Shape[1], cache.Shape[2]) : throw new ArgumentException($"{cache.Name} is not a [slots, capacity, width] cache.");

    private static void RequireRows(CpuTensor t, long rows)
    {
        if (t.Rows != rows) throw new ArgumentException($"{t.Name} has {t.Rows} rows, expected {rows}.");
    }

    private static void RequireColumns(CpuTensor t, long columns, string what)
    {
        if (t.Columns != columns) throw new ArgumentException($"{what} {t.Name} has {t.Columns} columns, expected {columns}.");
    }

    private static void SameShape(CpuTensor a, CpuTensor b)
    {
        if (!a.Shape.SequenceEqual(b.Shape))
            throw new ArgumentException($"{a.Name} [{string.Join(", ", a.Shape)}] and {b.Name} [{string.Join(", ", b.Shape)}] differ in shape.");
    }
}
