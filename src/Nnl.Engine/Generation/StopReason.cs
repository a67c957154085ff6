namespace Nnl.Engine.Generation;

/// <summary>Why a sequence stopped generating.</summary>
public enum StopReason
{
    /// <summary>The model produced an end-of-sequence (or another stop) token.</summary>
    StopToken,

    /// <summary>The text contains one of the stop strings (the text ends before it).</summary>
    StopString,

    /// <summary>MaxNewTokens tokens were generated.</summary>
    MaxNewTokens,

    /// <summary>The model's context (or the KV cache) is full.</summary>
    ContextFull,
}
