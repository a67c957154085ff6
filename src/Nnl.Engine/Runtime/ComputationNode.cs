using Nnl.Engine.Models;

namespace Nnl.Engine.Runtime;

public enum ComputationNodeKind
{
    /// <summary>Token (and for GPT-2 position) embedding: "tokens" → first hidden state.</summary>
    Embedding,

    /// <summary>One transformer block: attention and MLP with their residual adds; reads and writes its layer's KV cache.</summary>
    TransformerBlock,

    /// <summary>The last LayerNorm/RMSNorm.</summary>
    FinalNorm,

    /// <summary>The language-model head: hidden state of the batch's output rows → logits.</summary>
    Head,
}

/// <summary>
/// One weight a node reads: its role in the architecture ("attn_q", "ffn_up", ...) and where the
/// bytes live. A tied head lists the embedding's tensor again; a scheduler recognises the shared
/// tensor by <see cref="TensorInfo.Name"/>.
/// </summary>
public sealed record NodeWeight(string Role, TensorInfo Tensor)
{
    public long ByteCount => Tensor.ByteCount;

    /// <summary>
    /// The layout a matrix product reads this weight in; null when no product reads it. A GPU
    /// binder may store a <see cref="WeightLayout.Conv1D"/> weight transposed, because the
    /// nn.Linear GEMV reads a row per warp at close to memory bandwidth while the Conv1D one has to
    /// split k and merge partial sums.
    /// </summary>
    public WeightLayout? ProductLayout { get; init; }
}

/// <summary>
/// Scratch memory a node needs while it runs, as a function of the batch:
/// <c>rows · (BytesPerRow + BytesPerRowPerContextToken · context)</c>, where rows = batch × new
/// tokens and context = the longest sequence attended over (attention scores).
/// </summary>
public sealed record NodeWorkspace(long BytesPerRow, long BytesPerRowPerContextToken)
{
    public long Bytes(long rows, long context) => rows * (BytesPerRow + BytesPerRowPerContextToken * context);
}

/// <summary>
/// One entry of the <see cref="ComputationTable"/>: what an offload planner needs to place it
/// (weights and their bytes, workspace, KV cache per token, activations in and out) and what the
/// architecture needs to run it (<see cref="Kind"/>, <see cref="Layer"/>).
/// </summary>
public sealed class ComputationNode
{
    public ComputationNode(
        int index,
        ComputationNodeKind kind,
        string name,
        int layer,
        IReadOnlyList<NodeWeight> weights,
        IReadOnlyList<string> inputs,
        IReadOnlyList<string> outputs,
        NodeWorkspace workspace,
        long outputBytesPerRow,
        long kvCacheBytesPerToken)
    {
        Index = index;
        Kind = kind;
        Name = name;
        Layer = layer;
        Weights = weights;
        Inputs = inputs;
        Outputs = outputs;
        Workspace = workspace;
        OutputBytesPerRow = outputBytesPerRow;
        KvCacheBytesPerToken = kvCacheBytesPerToken;
    }

    /// <summary>Position in the topological order (0 = embedding).</summary>
    public int Index { get; }
    public ComputationNodeKind Kind { get; }

    /// <summary>"embedding", "blk.0", ..., "final_norm", "head".</summary>
    public string Name { get; }

    /// <summary>Transformer layer for blocks; -1 otherwise.</summary>
    public int Layer { get; }

    public IReadOnlyList<NodeWeight> Weights { get; }

    /// <summary>Names of the activations the node reads ("tokens" is the batch itself).</summary>
    public IReadOnlyList<string> Inputs { get; }

    /// <summary>Names of the activations the node produces (each produced by exactly one node).</summary>
    public IReadOnlyList<string> Outputs { get; }

    public NodeWorkspace Workspace { get; }

    /// <summary>Bytes per batch row of the node's outputs (the head's rows are the batch's output rows).</summary>
    public long OutputBytesPerRow { get; }

    /// <summary>KV-cache bytes per token per sequence this node keeps (0 for non-blocks).</summary>
    public long KvCacheBytesPerToken { get; }

    /// <summary>Total bytes of the node's weights as stored in the files (what streaming moves).</summary>
    public long WeightBytes => Weights.Sum(w => w.ByteCount);

    public long WorkspaceBytes(int batch, int tokens, int context) => Workspace.Bytes((long)batch * tokens, context);

    /// <summary>The weight with <paramref name="role"/>, or null when the architecture variant has none (biases).</summary>
    public NodeWeight? FindWeight(string role) => Weights.FirstOrDefault(w => w.Role == role);

    public override string ToString() => $"#{Index} {Name} ({Kind}, {Weights.Count} weights, {WeightBytes} bytes)";
}
