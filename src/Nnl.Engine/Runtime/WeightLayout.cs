namespace Nnl.Engine.Runtime;

/// <summary>How a matrix-product weight is stored.</summary>
public enum WeightLayout
{
    /// <summary>torch nn.Linear: [out_features, in_features]; y = x · Wᵀ. Llama family.</summary>
    Linear,

    /// <summary>GPT-2 Conv1D: [in_features, out_features]; y = x · W.</summary>
    Conv1D,
}
