using System.Text.Json.Nodes;

namespace Nnl.Engine.Models.Presets;

/// <summary>
/// A published model shape, as its config.json on the Hugging Face hub gives it. Nnl writes random
/// weights of exactly these shapes (New-NnlModel), so benchmarks need no download.
/// </summary>
public sealed record ModelPreset
{
    /// <summary>"gpt2", "llama-2-13b", ...</summary>
    public required string Name { get; init; }

    /// <summary>The repository the shape comes from ("openai-community/gpt2-xl", "meta-llama/Llama-2-13b-hf").</summary>
    public required string Source { get; init; }

    /// <summary>The published config.json (the fields transformers needs to build the model).</summary>
    public required string ConfigJson { get; init; }

    /// <summary>What Nnl does not reproduce of the architecture, if anything (Mistral's sliding window).</summary>
    public string? Note { get; init; }

    /// <summary>The config as a fresh, editable JSON object.</summary>
    public JsonObject CreateConfig() => (JsonObject)JsonNode.Parse(ConfigJson)!;

    public override string ToString() => Name;
}
