namespace Nnl.Engine.Models;

/// <summary>
/// generation_config.json: end-of-sequence ids and the sampling defaults the model's authors chose.
/// Every value is optional; <see cref="Empty"/> stands for a missing file.
/// </summary>
public sealed record GenerationConfig
{
    public static GenerationConfig Empty { get; } = new();

    public IReadOnlyList<int> EosTokenIds { get; init; } = Array.Empty<int>();
    public int? BosTokenId { get; init; }
    public int? PadTokenId { get; init; }
    public bool? DoSample { get; init; }
    public double? Temperature { get; init; }
    public int? TopK { get; init; }
    public double? TopP { get; init; }
    public double? RepetitionPenalty { get; init; }
    public int? MaxNewTokens { get; init; }
    public int? MaxLength { get; init; }

    /// <summary>Reads <paramref name="directory"/>/generation_config.json, or <see cref="Empty"/> when there is none.</summary>
    public static GenerationConfig Load(string directory)
    {
        var path = Path.GetFullPath(Path.Combine(directory, "generation_config.json"));
        if (!File.Exists(path)) return Empty;
        var (doc, json) = JsonFields.ReadFile(path);
        using (doc)
        {
            return new GenerationConfig
            {
                EosTokenIds = json.IntOrIntList("eos_token_id"),
                BosTokenId = json.OptionalInt("bos_token_id"),
                PadTokenId = json.OptionalInt("pad_token_id"),
                DoSample = json.OptionalBool("do_sample"),
                Temperature = json.OptionalDouble("temperature"),
                TopK = json.OptionalInt("top_k"),
                TopP = json.OptionalDouble("top_p"),
                RepetitionPenalty = json.OptionalDouble("repetition_penalty"),
                MaxNewTokens = json.OptionalInt("max_new_tokens"),
                MaxLength = json.OptionalInt("max_length"),
            };
        }
    }
}
