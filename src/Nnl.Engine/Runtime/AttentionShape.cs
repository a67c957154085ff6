namespace Nnl.Engine.Runtime;

/// <summary>
/// Heads of one attention layer. <see cref="KvHeadCount"/> &lt; <see cref="HeadCount"/> is
/// grouped-query attention: query head h reads KV head h / (HeadCount / KvHeadCount).
/// </summary>
public sealed record AttentionShape(int HeadCount, int KvHeadCount, int HeadDim, float Scale)
{
    public int QueryWidth => HeadCount * HeadDim;
    public int KvWidth => KvHeadCount * HeadDim;
    public int GroupSize => HeadCount / KvHeadCount;
}
