namespace Nnl.Engine.Runtime;

/// <summary>
/// Rotary position embedding as the Llama family uses it in Hugging Face layout ("rotate half":
/// element i of a head pairs with element i + HeadDim/2). The inverse frequencies already include
/// any scaling (Llama 3.1), so every backend applies the same table:
/// for pair i at position p, angle = p · InverseFrequencies[i]; cos and sin are multiplied by
/// <see cref="AttentionFactor"/>.
/// </summary>
public sealed record RotaryEmbedding(int HeadDim, float[] InverseFrequencies, float AttentionFactor = 1f)
{
    /// <summary>Rotated dimensions per head (the whole head for every architecture Nnl supports).</summary>
    public int RotaryDim => InverseFrequencies.Length * 2;
}
