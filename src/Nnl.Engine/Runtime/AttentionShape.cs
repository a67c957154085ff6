namespace Nnl.Engine.Runtime;

/// <summary>
/// Heads of one attention layer. <see cref="KvHeadCount"/> &lt; <see cref="HeadCount"/> is
/// grouped-query attention: query head h reads KV head h / (HeadCount / KvHeadCount).
/// <see cref="SlidingWindow"/> W (Mistral): a query at position p sees only keys at t &gt; p − W.
/// </summary>
public sealed record AttentionShape(int HeadCount, int KvHeadCount, int HeadDim, float Scale, int? SlidingWindow = null)
{
    /// <summary>First cache position a query at <paramref name="position"/> attends to.</summary>
    public int FirstVisiblePosition(int position) => SlidingWindow is { } w ? Math.Max(0, position - w + 1) : 0;

    public int QueryWidth => HeadCount * HeadDim;
    public int KvWidth => KvHeadCount * HeadDim;
    public int GroupSize => HeadCount / KvHeadCount;
}
