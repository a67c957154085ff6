using Nnl.Engine.Models;
using Nnl.Engine.Models.Architectures;
using Nnl.Engine.Runtime;

namespace Nnl.Engine.Tests.Models;

/// <summary>The computation table each architecture builds, and its checks of the tensors against the config.</summary>
public sealed class ArchitectureTableTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private ComputationTable Build()
    {
        var config = ModelConfig.Load(_dir.Path);
        using var weights = WeightCatalog.Open(_dir.Path);
        return ModelArchitectures.Create(config).BuildTable(weights);
    }

    private NnlModelFormatException Bad()
    {
        var e = Assert.Throws<NnlModelFormatException>(() => Build());
        Assert.Equal("ModelFormatInvalid", e.ErrorId);
        return e;
    }

    [Fact]
    public void LlamaTableIsEmbeddingBlocksNormHeadInOrder()
    {
        var shape = new LlamaShape(Layers: 3, Hidden: 32, Heads: 4, KvHeads: 2, Intermediate: 40, Vocab: 50);
        var model = TestModelWriter.WriteLlama(_dir.Path, shape, seed: 8);
        var table = Build();

        Assert.Equal(3 + 3, table.Count);
        Assert.Equal(
            new[] { ComputationNodeKind.Embedding, ComputationNodeKind.TransformerBlock, ComputationNodeKind.TransformerBlock, ComputationNodeKind.TransformerBlock, ComputationNodeKind.FinalNorm, ComputationNodeKind.Head },
            table.Nodes.Select(n => n.Kind));
        Assert.Equal(new[] { "embedding", "blk.0", "blk.1", "blk.2", "final_norm", "head" }, table.Nodes.Select(n => n.Name));
        Assert.Equal(new[] { -1, 0, 1, 2, -1, -1 }, table.Nodes.Select(n => n.Layer));

        // Every tensor of the files appears exactly once; bytes add up to the files' tensors.
        Assert.Equal(model.Tensors.Select(t => t.Name).OrderBy(n => n), table.DistinctWeights.Select(t => t.Name).OrderBy(n => n));
        Assert.Equal(model.Tensors.Sum(t => t.Values.Length * 4L), table.WeightBytes);
        Assert.Equal(model.Tensors.Sum(t => (long)t.Values.Length), table.ParameterCount);

        var block = table[2];
        Assert.Equal(9, block.Weights.Count);
        var q = block.FindWeight("attn_q")!.Tensor;
        Assert.Equal("model.layers.1.self_attn.q_proj.weight", q.Name);
        Assert.Equal(new long[] { 32, 32 }, q.Shape);
        Assert.Equal(new long[] { 16, 32 }, block.FindWeight("attn_k")!.Tensor.Shape);
        Assert.True(q.FileOffset > 8);
        Assert.EndsWith("model.safetensors", q.FilePath);
        Assert.Equal(2 * 4 * 16, block.KvCacheBytesPerToken); // K and V, kv width 16, F32
        Assert.Equal(2L * 3 * 16 * 4, table.KvCache.BytesPerToken);
        Assert.True(block.WorkspaceBytes(2, 5, 9) > block.WorkspaceBytes(1, 5, 9));
        Assert.True(block.WorkspaceBytes(1, 1, 100) > block.WorkspaceBytes(1, 1, 10));

        // Activations chain: each node reads what the previous produced; outputs die after their reader.
        Assert.Equal(new[] { ComputationTable.TokensInput }, table[0].Inputs);
        for (var i = 1; i < table.Count; i++)
        {
            Assert.Equal(table[i - 1].Outputs, table[i].Inputs);
            Assert.Equal(i, table.LastUseOfOutputs(i - 1));
        }
        Assert.Equal(ComputationTable.LogitsOutput, table[^1].Outputs.Single());
    }

    [Fact]
    public void TiedHeadSharesTheEmbeddingTensor()
    {
        TestModelWriter.WriteGpt2(_dir.Path, new Gpt2Shape(), seed: 2);
        var table = Build();
        var embedding = table[0].FindWeight("token_embd")!.Tensor;
        Assert.Same(embedding, table[^1].FindWeight("output")!.Tensor);
        Assert.Equal(table.Nodes.Sum(n => n.WeightBytes) - embedding.ByteCount, table.WeightBytes);
    }

    [Fact]
    public void Gpt2BlockUsesConv1DShapes()
    {
        TestModelWriter.WriteGpt2(_dir.Path, new Gpt2Shape(Hidden: 24, Heads: 3, Inner: 50), seed: 2);
        var block = Build()[1];
        Assert.Equal(new long[] { 24, 72 }, block.FindWeight("attn_qkv")!.Tensor.Shape);
        Assert.Equal(new long[] { 24, 50 }, block.FindWeight("ffn_up")!.Tensor.Shape);
        Assert.Equal(new long[] { 50, 24 }, block.FindWeight("ffn_down")!.Tensor.Shape);
    }

    [Fact]
    public void OldGpt2MaskBuffersAreTolerated()
    {
        var model = TestModelWriter.WriteGpt2(_dir.Path, new Gpt2Shape(TransformerPrefix: false), seed: 2);
        model.Tensors.Add(new TestTensor("h.0.attn.bias", new long[] { 1, 1, 4, 4 }, new float[16]));
        model.Tensors.Add(new TestTensor("h.1.attn.masked_bias", new long[] { 1 }, new[] { -1e4f }));
        model.SaveWeights();
        Assert.Equal(5, Build().Count);
    }

    [Fact]
    public void MissingTensorIsNamed()
    {
        var model = TestModelWriter.WriteLlama(_dir.Path, new LlamaShape(), seed: 5);
        model.Tensors.RemoveAll(t => t.Name == "model.layers.1.mlp.up_proj.weight");
        model.SaveWeights();
        var e = Bad();
        Assert.Equal("model.layers.1.mlp.up_proj.weight", e.TensorName);
        Assert.Contains("needs this tensor", e.Message);
    }

    [Fact]
    public void UntiedModelWithoutLmHeadFails()
    {
        var model = TestModelWriter.WriteLlama(_dir.Path, new LlamaShape(Tied: false), seed: 5);
        model.Tensors.RemoveAll(t => t.Name == "lm_head.weight");
        model.SaveWeights();
        Assert.Equal("lm_head.weight", Bad().TensorName);
    }

    [Fact]
    public void TensorsOfAnExtraLayerAreUnexpected()
    {
        var model = TestModelWriter.WriteLlama(_dir.Path, new LlamaShape(Layers: 3), seed: 5);
        model.Config["num_hidden_layers"] = 2;
        model.SaveConfig();
        var e = Bad();
        Assert.StartsWith("model.layers.2.", e.TensorName);
        Assert.Contains("not part of LlamaForCausalLM", e.Message);
        Assert.Contains("2 layers", e.Message);
        Assert.NotNull(e.ByteOffset);
    }

    [Fact]
    public void BiasesOnAModelWithoutThemAreUnexpected()
    {
        var model = TestModelWriter.WriteLlama(_dir.Path, new LlamaShape(AttentionBias: true), seed: 5);
        model.Config["attention_bias"] = false;
        model.SaveConfig();
        Assert.EndsWith("_proj.bias", Bad().TensorName);
    }

    [Fact]
    public void Qwen2WithoutItsBiasesFails()
    {
        var model = TestModelWriter.WriteLlama(_dir.Path, new LlamaShape(Architecture: "Qwen2ForCausalLM"), seed: 5);
        model.Tensors.RemoveAll(t => t.Name.EndsWith("k_proj.bias", StringComparison.Ordinal));
        model.SaveWeights();
        Assert.Equal("model.layers.0.self_attn.k_proj.bias", Bad().TensorName);
    }

    [Theory]
    [InlineData("vocab_size", 98, "model.embed_tokens.weight")]
    [InlineData("num_key_value_heads", 4, "model.layers.0.self_attn.k_proj.weight")]
    [InlineData("intermediate_size", 50, "model.layers.0.mlp.gate_proj.weight")]
    [InlineData("hidden_size", 64, "model.embed_tokens.weight")]
    public void ConfigContradictingTheTensorsFails(string key, int value, string tensor)
    {
        var model = TestModelWriter.WriteLlama(_dir.Path, new LlamaShape(), seed: 5);
        model.Config[key] = value;
        model.SaveConfig();
        var e = Bad();
        Assert.Equal(tensor, e.TensorName);
        Assert.Contains("contradicts the tensors", e.Message);
        Assert.NotNull(e.ByteOffset);
    }

    [Fact]
    public void Gpt2PositionTableMustMatchNPositions()
    {
        var model = TestModelWriter.WriteGpt2(_dir.Path, new Gpt2Shape(Positions: 40), seed: 5);
        model.Config["n_positions"] = 64;
        model.SaveConfig();
        Assert.Equal("transformer.wpe.weight", Bad().TensorName);
    }
}
