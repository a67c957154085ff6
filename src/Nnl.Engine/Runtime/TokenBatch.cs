namespace Nnl.Engine.Runtime;

/// <summary>
/// The tokens one forward pass computes, as a flat list of rows: row r is token
/// <see cref="TokenIds"/>[r] of the sequence in KV-cache slot <see cref="Slots"/>[r] at position
/// <see cref="Positions"/>[r]. Prompts of different lengths batch without padding (ragged rows);
/// a decode step is one row per active sequence. Attention of row r sees the cache entries of its
/// slot at positions 0..Positions[r] (causal), so prefill and decode are the same operation.
/// </summary>
public sealed class TokenBatch
{
    public TokenBatch(int[] tokenIds, int[] positions, int[] slots, int[] outputRows)
    {
        if (positions.Length != tokenIds.Length || slots.Length != tokenIds.Length)
            throw new ArgumentException("Token ids, positions and slots need one entry per row.");
        if (tokenIds.Length == 0) throw new ArgumentException("A batch needs at least one row.");
        foreach (var r in outputRows)
            if ((uint)r >= (uint)tokenIds.Length) throw new ArgumentOutOfRangeException(nameof(outputRows), r, "Output row outside the batch.");
        TokenIds = tokenIds;
        Positions = positions;
        Slots = slots;
        OutputRows = outputRows;
    }

    public int[] TokenIds { get; }
    public int[] Positions { get; }
    public int[] Slots { get; }

    /// <summary>Rows whose logits the head computes (the last token of each sequence when generating; every row for parity checks).</summary>
    public int[] OutputRows { get; }

    public int RowCount => TokenIds.Length;

    /// <summary>One sequence in slot <paramref name="slot"/>, its tokens starting at <paramref name="startPosition"/>.</summary>
    public static TokenBatch Single(IReadOnlyList<int> tokenIds, int startPosition = 0, int slot = 0, bool allLogits = false)
    {
        var n = tokenIds.Count;
        var positions = new int[n];
        for (var i = 0; i < n; i++) positions[i] = startPosition + i;
        var outputRows = allLogits ? Enumerable.Range(0, n).ToArray() : new[] { n - 1 };
        return new TokenBatch(tokenIds.ToArray(), positions, Enumerable.Repeat(slot, n).ToArray(), outputRows);
    }

    /// <summary>Largest position + 1 of any row: the context length this pass attends over.</summary>
    public int MaxContext => Positions.Max() + 1;
}

/// <summary>
/// A <see cref="TokenBatch"/> as a backend holds it for one forward pass (the CUDA backend copies
/// ids, positions and slots to the device once, not once per operation). Dispose after the pass.
/// </summary>
public abstract class BackendBatch : IDisposable
{
    protected BackendBatch(TokenBatch host) { Host = host; }

    public TokenBatch Host { get; }
    public int RowCount => Host.RowCount;

    public virtual void Dispose() { GC.SuppressFinalize(this); }
}
