using Nnl.Engine.Models;

namespace Nnl.Engine.Runtime;

/// <summary>
/// One architecture, described once and configured by one model's config: it builds the
/// computation table from the tensors present (checking that they are exactly what it expects),
/// and runs a node by composing backend operations. It never allocates weights nor decides where
/// they live. <see cref="Models.Architectures.ModelArchitectures.Create"/> picks the class.
/// </summary>
public interface IModelArchitecture
{
    /// <summary>"GPT2LMHeadModel", "LlamaForCausalLM", ...</summary>
    string Name { get; }

    ModelConfig Config { get; }

    /// <summary>Builds the table; throws <see cref="NnlModelFormatException"/> for missing, unexpected or mis-shaped tensors.</summary>
    ComputationTable BuildTable(WeightCatalog weights);

    /// <summary>Runs <paramref name="node"/>: reads its inputs from <paramref name="context"/>, queues backend operations, stores its outputs there.</summary>
    void Execute(ComputationNode node, NodeWeights weights, ForwardContext context);
}
