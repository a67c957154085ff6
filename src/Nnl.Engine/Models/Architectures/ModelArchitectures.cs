using Nnl.Engine.Runtime;

namespace Nnl.Engine.Models.Architectures;

/// <summary>Picks the architecture class for a config.</summary>
public static class ModelArchitectures
{
    public static IModelArchitecture Create(ModelConfig config) => config.Family switch
    {
        ModelFamily.Gpt2 => new Gpt2Architecture(config),
        ModelFamily.Llama => new LlamaArchitecture(config),
        _ => throw new NnlModelFormatException(config.SourcePath, $"architecture {config.Architecture} is not supported"),
    };

    /// <summary>Reads config.json, opens the weights and builds the table (the weights stay open in the returned catalog).</summary>
    public static ComputationTable BuildTable(ModelConfig config, WeightCatalog weights) => Create(config).BuildTable(weights);
}
