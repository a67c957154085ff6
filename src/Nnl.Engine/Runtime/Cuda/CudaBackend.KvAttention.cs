using Nnl.Engine.Models;

namespace Nnl.Engine.Runtime.Cuda;

/// <summary>The KV store folded into decode attention (kernels/attention_decode.cu, k_new / v_new).</summary>
public sealed partial class CudaBackend
{
    /// <summary>
    /// Store the new keys and values inside the split attention kernel where the batch allows it
    /// (<see cref="StoreKvAndAttend"/>), saving a launch and a stage of every decode layer. On by
    /// default; NNL_KV_FUSION=0 turns it off (benchmarks compare both, tests force both).
    /// </summary>
    public bool FuseKvStoreIntoAttention { get; set; } = Environment.GetEnvironmentVariable("NNL_KV_FUSION") != "0";

    /// <summary>StoreKvAndAttend calls that ran as one attention launch (tests and benchmarks read it).</summary>
    public long FusedKvStores { get; private set; }

    private CudaAttentionPath AttentionPath(int rows) =>
        ForcedAttentionPath ?? (rows <= SplitAttentionMaxRows ? CudaAttentionPath.Split : CudaAttentionPath.PerRow);

    /// <summary>
    /// One split-attention launch that also stores the new keys and values, when every row is the only
    /// one of its slot (decode: a row that saw another new row's position would read the cache while it
    /// is written) and the batch takes the split kernel; <see cref="StoreKv"/> then
    /// <see cref="Attention"/> otherwise. The operands are checked as StoreKv checks them either way.
    /// </summary>
    public void StoreKvAndAttend(BackendTensor q, BackendTensor k, BackendTensor v, BackendTensor kCache, BackendTensor vCache,
        BackendBatch batch, AttentionShape shape, BackendTensor output)
    {
        var b = Batch(batch);
        if (!FuseKvStoreIntoAttention || AttentionPath(b.RowCount) != CudaAttentionPath.Split || !OneRowPerSlot(b.Host))
        {
            StoreKv(k, v, kCache, vCache, batch);
            Attention(q, kCache, vCache, batch, shape, output);
            return;
        }
        var (kt, vt, _, _) = KvOperands("StoreKvAndAttend", k, v, kCache, vCache, b);
        Attention(q, kCache, vCache, batch, shape, output, (kt, vt));
        FusedKvStores++;
    }

    /// <summary>No two rows share a slot (split attention takes at most <see cref="SplitAttentionMaxRows"/> rows: pairs, no set).</summary>
    private static bool OneRowPerSlot(TokenBatch batch)
    {
        var slots = batch.Slots;
        for (int i = 1; i < slots.Length; i++)
            for (int j = 0; j < i; j++)
                if (slots[i] == slots[j]) return false;
        return true;
    }
}
