namespace Nnl.Engine.Models;

/// <summary>The two families of graph Nnl builds.</summary>
public enum ModelFamily
{
    /// <summary>GPT-2: learned positions, LayerNorm, Conv1D weights, gelu_new MLP, fused QKV.</summary>
    Gpt2,

    /// <summary>Llama 2/3, Mistral, Qwen2: rotary positions, RMSNorm, SwiGLU MLP, grouped-query attention.</summary>
    Llama,
}

/// <summary>Rotary scaling as Llama 3.1 ("llama3") or linear interpolation ("linear") configure it.</summary>
public sealed record RopeScaling(
    string RopeType,
    double Factor,
    double LowFreqFactor = 1,
    double HighFreqFactor = 4,
    int OriginalMaxPositionEmbeddings = 8192);

/// <summary>
/// A model's hyper-parameters from config.json, normalised across the names GPT-2 and the Llama
/// family use. Read-only; the architecture checks the tensors against it.
/// </summary>
public sealed record ModelConfig
{
    /// <summary>"GPT2LMHeadModel", "LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM".</summary>
    public required string Architecture { get; init; }

    /// <summary>config.json's model_type ("gpt2", "llama", "mistral", "qwen2").</summary>
    public required string ModelType { get; init; }

    public required ModelFamily Family { get; init; }
    public required int HiddenSize { get; init; }
    public required int LayerCount { get; init; }
    public required int HeadCount { get; init; }

    /// <summary>Key/value heads (grouped-query attention when fewer than <see cref="HeadCount"/>).</summary>
    public required int KvHeadCount { get; init; }

    public required int HeadDim { get; init; }

    /// <summary>MLP hidden width (GPT-2: n_inner or 4·n_embd).</summary>
    public required int IntermediateSize { get; init; }

    public required int VocabSize { get; init; }

    /// <summary>Longest context the model was built for (GPT-2: n_positions, the size of its position table).</summary>
    public required int MaxPositions { get; init; }

    /// <summary>LayerNorm epsilon (GPT-2) or RMSNorm epsilon (Llama family).</summary>
    public required double NormEpsilon { get; init; }

    /// <summary>"gelu_new" (GPT-2) or "silu" (Llama family).</summary>
    public required string Activation { get; init; }

    public bool TieWordEmbeddings { get; init; }

    /// <summary>Biases on the q, k and v projections (Qwen2; Llama with attention_bias).</summary>
    public bool QkvBias { get; init; }

    /// <summary>Bias on the attention output projection (Llama with attention_bias; always for GPT-2).</summary>
    public bool OutputProjectionBias { get; init; }

    /// <summary>Biases on the MLP projections (Llama with mlp_bias; always for GPT-2).</summary>
    public bool MlpBias { get; init; }

    public double RopeTheta { get; init; } = 10000;
    public RopeScaling? RopeScaling { get; init; }

    /// <summary>Mistral's sliding window, when the config sets one: a token attends to the last W positions, itself included.</summary>
    public int? SlidingWindow { get; init; }

    /// <summary>The dtype config.json declares ("float32", "float16", "bfloat16"), if any.</summary>
    public string? DeclaredDType { get; init; }

    public int? BosTokenId { get; init; }
    public IReadOnlyList<int> EosTokenIds { get; init; } = Array.Empty<int>();

    /// <summary>Full path of the config.json this came from.</summary>
    public required string SourcePath { get; init; }

    public int QueryWidth => HeadCount * HeadDim;
    public int KvWidth => KvHeadCount * HeadDim;

    /// <summary>Reads and checks <paramref name="directory"/>/config.json.</summary>
    public static ModelConfig Load(string directory) => ModelConfigReader.Load(directory);
}
