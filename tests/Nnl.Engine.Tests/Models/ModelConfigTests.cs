using System.Text.Json.Nodes;
using Nnl.Engine.Models;
using Nnl.Engine.Models.Architectures;
using Nnl.Engine.Tests.Runtime;

namespace Nnl.Engine.Tests.Models;

public sealed class ModelConfigTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private ModelConfig Parse(JsonObject json)
    {
        TestModelWriter.WriteConfig(_dir.Path, json);
        return ModelConfig.Load(_dir.Path);
    }

    private NnlModelFormatException Bad(JsonObject json)
    {
        TestModelWriter.WriteConfig(_dir.Path, json);
        var e = Assert.Throws<NnlModelFormatException>(() => ModelConfig.Load(_dir.Path));
        Assert.Contains("config.json", e.Message);
        return e;
    }

    private static JsonObject Gpt2Json() => new()
    {
        ["architectures"] = new JsonArray("GPT2LMHeadModel"),
        ["model_type"] = "gpt2",
        ["n_embd"] = 48, ["n_layer"] = 3, ["n_head"] = 6, ["n_positions"] = 77, ["vocab_size"] = 301,
        ["layer_norm_epsilon"] = 1e-5, ["activation_function"] = "gelu_new", ["n_inner"] = null,
        ["eos_token_id"] = 300,
    };

    private static JsonObject LlamaJson(string arch = "LlamaForCausalLM") => new()
    {
        ["architectures"] = new JsonArray(arch),
        ["hidden_size"] = 64, ["num_hidden_layers"] = 2, ["num_attention_heads"] = 8, ["num_key_value_heads"] = 2,
        ["intermediate_size"] = 96, ["vocab_size"] = 500, ["max_position_embeddings"] = 256, ["rms_norm_eps"] = 1e-5,
        ["rope_theta"] = 500000.0, ["tie_word_embeddings"] = true, ["eos_token_id"] = new JsonArray(7, 9),
    };

    [Fact]
    public void Gpt2FieldsAreRead()
    {
        var c = Parse(Gpt2Json());
        Assert.Equal(ModelFamily.Gpt2, c.Family);
        Assert.Equal((48, 3, 6, 6, 8, 192, 301, 77), (c.HiddenSize, c.LayerCount, c.HeadCount, c.KvHeadCount, c.HeadDim, c.IntermediateSize, c.VocabSize, c.MaxPositions));
        Assert.True(c.TieWordEmbeddings);
        Assert.Equal(1e-5, c.NormEpsilon);
        Assert.Equal(new[] { 300 }, c.EosTokenIds);
    }

    [Fact]
    public void LlamaWithGroupedQueryAttentionIsRead()
    {
        var c = Parse(LlamaJson());
        Assert.Equal(ModelFamily.Llama, c.Family);
        Assert.Equal((8, 2, 8), (c.HeadCount, c.KvHeadCount, c.HeadDim));
        Assert.Equal(500000.0, c.RopeTheta);
        Assert.True(c.TieWordEmbeddings);
        Assert.False(c.QkvBias);
        Assert.Equal(new[] { 7, 9 }, c.EosTokenIds);
        Assert.Null(c.RopeScaling);
    }

    [Fact]
    public void ExplicitHeadDimWins()
    {
        var json = LlamaJson();
        json["head_dim"] = 16;
        var c = Parse(json);
        Assert.Equal(16, c.HeadDim);
        Assert.Equal(128, c.QueryWidth);
    }

    [Fact]
    public void Qwen2HasQkvBiasesButNoOutputBias()
    {
        var c = Parse(LlamaJson("Qwen2ForCausalLM"));
        Assert.True(c.QkvBias);
        Assert.False(c.OutputProjectionBias);
    }

    [Fact]
    public void MistralKeepsItsSlidingWindow()
    {
        var json = LlamaJson("MistralForCausalLM");
        json["sliding_window"] = 4096;
        Assert.Equal(4096, Parse(json).SlidingWindow);
    }

    [Fact]
    public void Llama31ScalingReadsTheSameFromTransformers4And5Spellings()
    {
        var scaling = new JsonObject
        {
            ["rope_type"] = "llama3", ["factor"] = 8.0, ["low_freq_factor"] = 1.0, ["high_freq_factor"] = 4.0,
            ["original_max_position_embeddings"] = 8192,
        };
        var v4 = LlamaJson();
        v4["rope_scaling"] = scaling.DeepClone();
        var c4 = Parse(v4);

        var v5 = LlamaJson();
        v5.Remove("rope_theta");
        var parameters = scaling.DeepClone().AsObject();
        parameters["rope_theta"] = 500000.0;
        v5["rope_parameters"] = parameters;
        var c5 = Parse(v5);

        Assert.Equal(new RopeScaling("llama3", 8, 1, 4, 8192), c4.RopeScaling);
        Assert.Equal(c4.RopeScaling, c5.RopeScaling);
        Assert.Equal(c4.RopeTheta, c5.RopeTheta);
    }

    [Fact]
    public void RotaryFrequenciesFollowLlama31Scaling()
    {
        var shape = new LlamaShape(Hidden: 64, Heads: 1, KvHeads: 1, HeadDim: 64, Theta: 500000, Llama3Scaling: true, ScalingFactor: 8, OriginalMaxPositions: 64);
        using var dir = new TempDirectory();
        TestModelWriter.WriteLlama(dir.Path, shape, 1);
        var rope = RotaryFrequencies.For(ModelConfig.Load(dir.Path));
        var expected = ReferenceTransformer.InverseFrequencies(shape);
        Assert.Equal(32, rope.InverseFrequencies.Length);
        for (var i = 0; i < expected.Length; i++) Assert.Equal(expected[i], rope.InverseFrequencies[i], expected[i] * 1e-6);
        // High frequencies untouched, the lowest divided by the factor.
        Assert.Equal(1.0, rope.InverseFrequencies[0], 1e-7);
        Assert.Equal(Math.Pow(500000, -62.0 / 64) / 8, rope.InverseFrequencies[31], 1e-12);
    }

    [Fact]
    public void UnsupportedArchitectureIsNamed()
    {
        var json = LlamaJson("FalconForCausalLM");
        Assert.Contains("FalconForCausalLM is not supported", Bad(json).Message);
    }

    [Fact]
    public void HeadsThatDoNotGroupFail()
    {
        var json = LlamaJson();
        json["num_key_value_heads"] = 3;
        Assert.Contains("not a multiple of num_key_value_heads", Bad(json).Message);
    }

    [Fact]
    public void UnsupportedRopeTypeFails()
    {
        var json = LlamaJson();
        json["rope_scaling"] = new JsonObject { ["rope_type"] = "yarn", ["factor"] = 4.0 };
        Assert.Contains("rope_type \"yarn\" is not supported", Bad(json).Message);
    }

    [Fact]
    public void MissingFieldIsNamed()
    {
        var json = Gpt2Json();
        json.Remove("n_head");
        Assert.Contains("\"n_head\" is missing", Bad(json).Message);
    }

    [Fact]
    public void WrongTypeIsNamed()
    {
        var json = Gpt2Json();
        json["n_layer"] = "twelve";
        Assert.Contains("\"n_layer\" is \"twelve\", not an integer", Bad(json).Message);
    }

    [Fact]
    public void InvalidJsonFails()
    {
        File.WriteAllText(_dir.File("config.json"), "{\"n_embd\": 12,,");
        var e = Assert.Throws<NnlModelFormatException>(() => ModelConfig.Load(_dir.Path));
        Assert.Contains("not valid JSON", e.Message);
    }

    [Fact]
    public void GenerationConfigIsOptionalAndReadWhenPresent()
    {
        Assert.Same(GenerationConfig.Empty, GenerationConfig.Load(_dir.Path));
        File.WriteAllText(_dir.File("generation_config.json"),
            "{\"bos_token_id\": 1, \"eos_token_id\": [2, 5], \"do_sample\": true, \"temperature\": 0.6, \"top_p\": 0.9, \"max_new_tokens\": 33}");
        var g = GenerationConfig.Load(_dir.Path);
        Assert.Equal(new[] { 2, 5 }, g.EosTokenIds);
        Assert.Equal((1, true, 0.6, 0.9, 33), (g.BosTokenId!.Value, g.DoSample!.Value, g.Temperature!.Value, g.TopP!.Value, g.MaxNewTokens!.Value));
        Assert.Null(g.TopK);
    }
}
