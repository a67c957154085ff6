namespace Nnl.Engine.Generation;

/// <summary>
/// A model loaded by Import-NnlModel: what it is and where it runs. Holds the loaded engine
/// (internal); Remove-NnlModel releases it.
/// </summary>
public sealed record NnlModel
{
    public required string Name { get; init; }
    public required string Architecture { get; init; }
    public required long Parameters { get; init; }
    public required int Layers { get; init; }
    public required int HiddenSize { get; init; }
    public required int Heads { get; init; }
    public required int KvHeads { get; init; }
    public required int VocabSize { get; init; }
    public required int MaxPositions { get; init; }

    /// <summary>Element type of the weights in the files ("F32", "F16", "BF16", or "Mixed").</summary>
    public required string DType { get; init; }

    /// <summary>Bytes of the weights in the files.</summary>
    public required long Bytes { get; init; }

    /// <summary>Tokenizer kind, or null when the directory has none (generation then takes token ids).</summary>
    public string? Tokenizer { get; init; }

    public required string Device { get; init; }
    public required string Path { get; init; }

    internal LoadedModel Session { get; init; } = null!;

    /// <summary>False after Remove-NnlModel.</summary>
    public bool IsLoaded => Session is { IsDisposed: false };
}
