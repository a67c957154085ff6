namespace Nnl.Engine.Runtime;

/// <summary>
/// The weights of a GPT-2-style pre-norm decoder block (<see cref="IComputeBackend.DecoderBlock"/>):
/// a norm, one fused q|k|v product, attention, an output projection, a norm, an up product with
/// gelu_new, a down projection. Products are [out, in] for <see cref="WeightLayout.Linear"/> and
/// [in, out] for <see cref="WeightLayout.Conv1D"/> (GPT-2's files); every bias may be null.
/// </summary>
/// <param name="AttentionNorm">ln_1.</param>
/// <param name="Qkv">The fused product into q (QueryWidth), k and v (KvWidth each), in that order.</param>
/// <param name="Output">The attention output projection, QueryWidth → hidden.</param>
/// <param name="MlpNorm">ln_2.</param>
/// <param name="Up">hidden → inner, followed by gelu_new.</param>
/// <param name="Down">inner → hidden.</param>
public sealed record DecoderBlockWeights(
    RowNorm AttentionNorm, BackendTensor Qkv, BackendTensor? QkvBias, BackendTensor Output, BackendTensor? OutputBias,
    RowNorm MlpNorm, BackendTensor Up, BackendTensor? UpBias, BackendTensor Down, BackendTensor? DownBias, WeightLayout Layout);

/// <summary>
/// The temporaries of a composed <see cref="IComputeBackend.DecoderBlock"/>, [rows, columns] F32:
/// the two norms' outputs [rows, hidden], qkv [rows, QueryWidth + 2·KvWidth], attention
/// [rows, QueryWidth], up [rows, inner].
/// </summary>
public sealed record DecoderBlockScratch(BackendTensor AttentionNorm, BackendTensor Qkv, BackendTensor Attention,
    BackendTensor MlpNorm, BackendTensor Up);

/// <summary>The decoder block as the operations it stands for: the CPU backend's implementation, and every other backend's fallback.</summary>
public static class DecoderBlockComposition
{
    /// <summary>
    /// Six operations: the first norm with the qkv product (NormMatMul), StoreKvAndAttend (q, k and
    /// v read as column views of the qkv product), the output projection added into x, the second
    /// norm with the up product and gelu_new, the down projection added into x.
    /// </summary>
    public static void Compose(IComputeBackend be, BackendTensor x, DecoderBlockWeights w, DecoderBlockScratch scratch,
        BackendTensor kCache, BackendTensor vCache, BackendBatch batch, AttentionShape shape)
    {
        be.NormMatMul(x, w.AttentionNorm, scratch.AttentionNorm, w.Qkv, w.Layout, w.QkvBias, scratch.Qkv);
        var q = be.ColumnView(scratch.Qkv, 0, shape.QueryWidth);
        var k = be.ColumnView(scratch.Qkv, shape.QueryWidth, shape.KvWidth);
        var v = be.ColumnView(scratch.Qkv, shape.QueryWidth + shape.KvWidth, shape.KvWidth);
        be.StoreKvAndAttend(q, k, v, kCache, vCache, batch, shape, scratch.Attention);
        be.MatMul(scratch.Attention, w.Output, w.Layout, w.OutputBias, x, MatMulEpilogue.Accumulate);
        be.NormMatMul(x, w.MlpNorm, scratch.MlpNorm, w.Up, w.Layout, w.UpBias, scratch.Up, MatMulEpilogue.GeluNew);
        be.MatMul(scratch.Up, w.Down, w.Layout, w.DownBias, x, MatMulEpilogue.Accumulate);
    }
}
