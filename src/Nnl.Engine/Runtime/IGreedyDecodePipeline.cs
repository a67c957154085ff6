namespace Nnl.Engine.Runtime;

/// <summary>
/// Greedy decoding that keeps the device busy between tokens. Through <see cref="IModelRunner.Forward"/>
/// a step's logits travel to the host, the host picks each row's token and uploads the next batch,
/// and the device idles meanwhile (about 0.2 ms a token on the H200, an eighth of a resident GPT-2-XL
/// step). Here the device picks each row's largest logit itself and the next step reads those ids
/// where they lie, so the host queues step n + 1 before step n's ids (4 bytes a row) have reached it.
/// The tokens are those of Forward followed by the host's argmax (the first largest logit; the device
/// skips NaN).
/// </summary>
/// <remarks>
/// Use: <see cref="Enqueue"/> the first step with ids from the host, then repeatedly enqueue the next
/// step with <c>idsFromDevice</c> and <see cref="Take"/> the oldest. A caller that stops early
/// (an end-of-sequence id) leaves a step queued that computed one position too many: its keys and
/// values sit past the sequence's end in the cache, where the next pass at that position overwrites
/// them before any attention reads them. Dispose waits for what is queued.
/// </remarks>
public interface IGreedyDecodePipeline : IDisposable
{
    /// <summary>Most steps queued and not yet taken.</summary>
    public const int MaxPending = 2;

    /// <summary>Steps queued whose ids have not been taken.</summary>
    int Pending { get; }

    /// <summary>
    /// Queues one decode step of <paramref name="batch"/> (every row an output row, in order). With
    /// <paramref name="idsFromDevice"/> the rows' token ids are those the last queued step chose, row for
    /// row (the batch's own ids are not read; the row count must match); otherwise the batch's.
    /// </summary>
    void Enqueue(TokenBatch batch, bool idsFromDevice, CancellationToken cancellation = default);

    /// <summary>Waits for the oldest queued step and returns the id chosen for each of its rows.</summary>
    int[] Take();
}
