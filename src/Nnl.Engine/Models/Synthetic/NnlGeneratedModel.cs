namespace Nnl.Engine.Models.Synthetic;

/// <summary>A model directory New-NnlModel wrote: what it holds and how fast it was written.</summary>
public sealed record NnlGeneratedModel
{
    /// <summary>The preset ("llama-2-13b"), or the name of the directory the -Config file came from.</summary>
    public required string Name { get; init; }
    public string? Preset { get; init; }
    public required string Architecture { get; init; }
    public required long Parameters { get; init; }
    public required int Layers { get; init; }
    public required int HiddenSize { get; init; }
    public required int VocabSize { get; init; }

    /// <summary>"F16", "BF16" or "F32".</summary>
    public required string DType { get; init; }
    public required int Seed { get; init; }

    /// <summary>Bytes of the weights (safetensors data).</summary>
    public required long WeightBytes { get; init; }

    /// <summary>Bytes of every file written.</summary>
    public required long BytesWritten { get; init; }

    public required int Shards { get; init; }
    public required double Seconds { get; init; }
    public required double WriteGBps { get; init; }
    public required string Path { get; init; }
}

/// <summary>The dtype names New-NnlModel accepts.</summary>
public static class DTypeNames
{
    public static IReadOnlyList<string> Accepted { get; } = new[] { "fp16", "bf16", "fp32" };

    public static TensorDType Parse(string? name, string parameter = "DType") => name?.Trim().ToLowerInvariant() switch
    {
        "fp16" or "f16" or "float16" or "half" => TensorDType.F16,
        "bf16" or "bfloat16" => TensorDType.BF16,
        "fp32" or "f32" or "float32" or "float" => TensorDType.F32,
        _ => throw new NnlArgumentException(parameter, $"'{name}' is not one of fp16, bf16, fp32."),
    };
}
