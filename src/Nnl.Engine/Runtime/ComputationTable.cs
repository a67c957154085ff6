using Nnl.Engine.Models;

namespace Nnl.Engine.Runtime;

/// <summary>
/// A model as a topologically sorted list of nodes: embedding, one node per transformer block,
/// final norm, head. Built once per model by its architecture; the CPU runner and the GPU offload
/// scheduler both walk it in order, asking an <see cref="IWeightBinder"/> for each node's weights
/// and running the node with <see cref="IModelArchitecture.Execute"/>.
/// </summary>
public sealed class ComputationTable
{
    private readonly int[] _lastUse;
    private readonly Dictionary<string, int> _producer = new();

    public ComputationTable(IModelArchitecture architecture, IReadOnlyList<ComputationNode> nodes, KvCacheShape kvCache)
    {
        Config = architecture.Config;
        Architecture = architecture;
        Nodes = nodes;
        KvCache = kvCache;
        for (var i = 0; i < nodes.Count; i++)
        {
            if (nodes[i].Index != i) throw new ArgumentException($"Node {nodes[i].Name} has index {nodes[i].Index} at position {i}.");
            foreach (var input in nodes[i].Inputs)
                if (input != TokensInput && !_producer.ContainsKey(input))
                    throw new ArgumentException($"Node {nodes[i].Name} reads '{input}' before any node produces it.");
            foreach (var output in nodes[i].Outputs)
                if (!_producer.TryAdd(output, i)) throw new ArgumentException($"Activation '{output}' is produced twice.");
        }
        if (!_producer.ContainsKey(LogitsOutput)) throw new ArgumentException("No node produces 'logits'.");

        // Last node that reads each node's outputs: after it, they can be released.
        _lastUse = new int[nodes.Count];
        for (var i = 0; i < nodes.Count; i++) _lastUse[i] = i;
        for (var i = 0; i < nodes.Count; i++)
            foreach (var input in nodes[i].Inputs)
                if (_producer.TryGetValue(input, out var p)) _lastUse[p] = Math.Max(_lastUse[p], i);
    }

    /// <summary>The input every table starts from: the batch's token ids.</summary>
    public const string TokensInput = "tokens";

    /// <summary>The activation the head produces: [output rows, vocab] F32.</summary>
    public const string LogitsOutput = "logits";

    public ModelConfig Config { get; }
    public IModelArchitecture Architecture { get; }
    public IReadOnlyList<ComputationNode> Nodes { get; }
    public KvCacheShape KvCache { get; }

    public int Count => Nodes.Count;
    public ComputationNode this[int index] => Nodes[index];

    public long WeightBytes => DistinctWeights.Sum(w => w.ByteCount);

    /// <summary>Every weight tensor once (a tied head's tensor counts once).</summary>
    public IEnumerable<TensorInfo> DistinctWeights => Nodes.SelectMany(n => n.Weights).Select(w => w.Tensor).DistinctBy(t => t.Name);

    public long ParameterCount => DistinctWeights.Sum(t => t.ElementCount);

    /// <summary>Index of the last node that reads an output of node <paramref name="index"/>: its outputs are dead after that node.</summary>
    public int LastUseOfOutputs(int index) => _lastUse[index];

    /// <summary>Index of the node that produces <paramref name="activation"/>.</summary>
    public int ProducerOf(string activation) => _producer[activation];
}

/// <summary>
/// Shape of the KV cache a table needs: one K and one V tensor per layer, [slots, capacity, KvWidth]
/// of <see cref="ElementType"/> (F32 for the CPU engine; the GPU runner stores the weights' 16-bit
/// type by default, as transformers does, which halves what attention reads and what the plan reserves).
/// </summary>
public sealed record KvCacheShape(int LayerCount, int KvWidth, TensorDType ElementType = TensorDType.F32)
{
    public long BytesPerToken => 2L * LayerCount * KvWidth * ElementType.ElementBytes();
}
