namespace Nnl.Engine.Generation;

/// <summary>
/// How to pick tokens. Temperature 0 is greedy (arg-max). Processing order follows transformers:
/// repetition penalty → temperature → top-k → top-p → sample.
/// </summary>
public sealed record GenerationOptions
{
    public int MaxNewTokens { get; init; } = 128;

    /// <summary>0 = greedy.</summary>
    public double Temperature { get; init; }

    /// <summary>Keep the K most likely tokens; 0 = off.</summary>
    public int TopK { get; init; }

    /// <summary>Keep the smallest set of most likely tokens whose probability reaches P; 1 = off.</summary>
    public double TopP { get; init; } = 1.0;

    /// <summary>Divides positive (multiplies negative) logits of tokens already in the sequence; 1 = off.</summary>
    public double RepetitionPenalty { get; init; } = 1.0;

    /// <summary>Same seed, same prompts, same model → same tokens. Null draws a fresh seed.</summary>
    public int? Seed { get; init; }

    public IReadOnlyList<int> StopTokenIds { get; init; } = Array.Empty<int>();
    public IReadOnlyList<string> StopStrings { get; init; } = Array.Empty<string>();

    public bool IsGreedy => Temperature <= 0;

    public void Validate()
    {
        if (MaxNewTokens < 0) throw new NnlArgumentException(nameof(MaxNewTokens), $"{MaxNewTokens} is negative.");
        if (double.IsNaN(Temperature) || Temperature < 0) throw new NnlArgumentException(nameof(Temperature), $"{Temperature} must be 0 (greedy) or positive.");
        if (TopK < 0) throw new NnlArgumentException(nameof(TopK), $"{TopK} is negative (0 turns top-k off).");
        if (!(TopP > 0 && TopP <= 1)) throw new NnlArgumentException(nameof(TopP), $"{TopP} must be in (0, 1].");
        if (!(RepetitionPenalty > 0) || double.IsInfinity(RepetitionPenalty)) throw new NnlArgumentException(nameof(RepetitionPenalty), $"{RepetitionPenalty} must be positive.");
        foreach (var s in StopStrings)
            if (string.IsNullOrEmpty(s)) throw new NnlArgumentException(nameof(StopStrings), "A stop string cannot be empty.");
    }
}
