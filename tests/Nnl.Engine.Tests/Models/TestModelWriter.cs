using System.Text.Json;
using System.Text.Json.Nodes;
using Nnl.Engine.Models;

namespace Nnl.Engine.Tests.Models;

/// <summary>Shape of a random GPT-2 test model.</summary>
internal sealed record Gpt2Shape(int Hidden = 32, int Layers = 2, int Heads = 4, int Vocab = 97, int Positions = 48,
    int? Inner = null, bool Tied = true, double Epsilon = 1e-5, bool TransformerPrefix = true)
{
    public int InnerSize => Inner ?? 4 * Hidden;
}

/// <summary>Shape of a random Llama-family test model (Llama, Mistral, Qwen2).</summary>
internal sealed record LlamaShape(string Architecture = "LlamaForCausalLM", int Hidden = 32, int Layers = 2, int Heads = 4, int KvHeads = 2,
    int? HeadDim = null, int Intermediate = 48, int Vocab = 97, int MaxPositions = 128, double Theta = 10000, double Epsilon = 1e-6,
    bool Tied = false, bool AttentionBias = false, bool Llama3Scaling = false, double ScalingFactor = 8, int OriginalMaxPositions = 32,
    bool Transformers5RopeParameters = false, int? SlidingWindow = null)
{
    public int HeadSize => HeadDim ?? Hidden / Heads;
    public bool IsQwen2 => Architecture == "Qwen2ForCausalLM";
    public bool QkvBias => IsQwen2 || AttentionBias;
    public bool OutputBias => !IsQwen2 && AttentionBias;
}

/// <summary>A model directory a test wrote: its config (as JSON) and its tensors (values as stored).</summary>
internal sealed class TestModel
{
    public required string Directory { get; init; }
    public required JsonObject Config { get; init; }
    public required List<TestTensor> Tensors { get; init; }
    public Gpt2Shape? Gpt2 { get; init; }
    public LlamaShape? Llama { get; init; }

    public float[] W(string name) => Tensors.First(t => t.Name == name).Values;
    public bool Has(string name) => Tensors.Any(t => t.Name == name);

    /// <summary>Rewrites config.json (after editing <see cref="Config"/>).</summary>
    public void SaveConfig() => TestModelWriter.WriteConfig(Directory, Config);

    /// <summary>Rewrites model.safetensors from <see cref="Tensors"/>.</summary>
    public void SaveWeights() => SafetensorsWriter.Write(Path.Combine(Directory, "model.safetensors"), Tensors);
}

/// <summary>
/// Writes random-weight models the way transformers' save_pretrained lays them out (config.json +
/// model.safetensors, optionally sharded with model.safetensors.index.json). Reusable by every test
/// that needs a model on disk.
/// </summary>
internal static class TestModelWriter
{
    public static TestModel WriteGpt2(string directory, Gpt2Shape s, int seed, TensorDType dtype = TensorDType.F32)
    {
        var rng = new Random(seed);
        var p = s.TransformerPrefix ? "transformer." : "";
        var tensors = new List<TestTensor>
        {
            Matrix(rng, p + "wte.weight", dtype, 0.5f, s.Vocab, s.Hidden),
            Matrix(rng, p + "wpe.weight", dtype, 0.2f, s.Positions, s.Hidden),
        };
        for (var l = 0; l < s.Layers; l++)
        {
            var b = $"{p}h.{l}.";
            tensors.Add(Norm(rng, b + "ln_1.weight", dtype, s.Hidden));
            tensors.Add(Matrix(rng, b + "ln_1.bias", dtype, 0.1f, s.Hidden));
            tensors.Add(Matrix(rng, b + "attn.c_attn.weight", dtype, Scale(s.Hidden), s.Hidden, 3 * s.Hidden));
            tensors.Add(Matrix(rng, b + "attn.c_attn.bias", dtype, 0.1f, 3 * s.Hidden));
            tensors.Add(Matrix(rng, b + "attn.c_proj.weight", dtype, Scale(s.Hidden), s.Hidden, s.Hidden));
            tensors.Add(Matrix(rng, b + "attn.c_proj.bias", dtype, 0.1f, s.Hidden));
            tensors.Add(Norm(rng, b + "ln_2.weight", dtype, s.Hidden));
            tensors.Add(Matrix(rng, b + "ln_2.bias", dtype, 0.1f, s.Hidden));
            tensors.Add(Matrix(rng, b + "mlp.c_fc.weight", dtype, Scale(s.Hidden), s.Hidden, s.InnerSize));
            tensors.Add(Matrix(rng, b + "mlp.c_fc.bias", dtype, 0.1f, s.InnerSize));
            tensors.Add(Matrix(rng, b + "mlp.c_proj.weight", dtype, Scale(s.InnerSize), s.InnerSize, s.Hidden));
            tensors.Add(Matrix(rng, b + "mlp.c_proj.bias", dtype, 0.1f, s.Hidden));
        }
        tensors.Add(Norm(rng, p + "ln_f.weight", dtype, s.Hidden));
        tensors.Add(Matrix(rng, p + "ln_f.bias", dtype, 0.1f, s.Hidden));
        if (!s.Tied) tensors.Add(Matrix(rng, "lm_head.weight", dtype, Scale(s.Hidden), s.Vocab, s.Hidden));

        var config = new JsonObject
        {
            ["architectures"] = new JsonArray("GPT2LMHeadModel"),
            ["model_type"] = "gpt2",
            ["n_embd"] = s.Hidden,
            ["n_layer"] = s.Layers,
            ["n_head"] = s.Heads,
            ["n_positions"] = s.Positions,
            ["n_ctx"] = s.Positions,
            ["n_inner"] = s.Inner,
            ["vocab_size"] = s.Vocab,
            ["layer_norm_epsilon"] = s.Epsilon,
            ["activation_function"] = "gelu_new",
            ["tie_word_embeddings"] = s.Tied,
            ["bos_token_id"] = s.Vocab - 1,
            ["eos_token_id"] = s.Vocab - 1,
            ["torch_dtype"] = TorchName(dtype),
        };
        return Save(directory, config, tensors, gpt2: s);
    }

    public static TestModel WriteLlama(string directory, LlamaShape s, int seed, TensorDType dtype = TensorDType.F32)
    {
        var rng = new Random(seed);
        int h = s.Hidden, qw = s.Heads * s.HeadSize, kw = s.KvHeads * s.HeadSize, inter = s.Intermediate;
        var tensors = new List<TestTensor> { Matrix(rng, "model.embed_tokens.weight", dtype, 0.5f, s.Vocab, h) };
        for (var l = 0; l < s.Layers; l++)
        {
            var b = $"model.layers.{l}.";
            tensors.Add(Norm(rng, b + "input_layernorm.weight", dtype, h));
            tensors.Add(Matrix(rng, b + "self_attn.q_proj.weight", dtype, Scale(h), qw, h));
            if (s.QkvBias) tensors.Add(Matrix(rng, b + "self_attn.q_proj.bias", dtype, 0.2f, qw));
            tensors.Add(Matrix(rng, b + "self_attn.k_proj.weight", dtype, Scale(h), kw, h));
            if (s.QkvBias) tensors.Add(Matrix(rng, b + "self_attn.k_proj.bias", dtype, 0.2f, kw));
            tensors.Add(Matrix(rng, b + "self_attn.v_proj.weight", dtype, Scale(h), kw, h));
            if (s.QkvBias) tensors.Add(Matrix(rng, b + "self_attn.v_proj.bias", dtype, 0.2f, kw));
            tensors.Add(Matrix(rng, b + "self_attn.o_proj.weight", dtype, Scale(qw), h, qw));
            if (s.OutputBias) tensors.Add(Matrix(rng, b + "self_attn.o_proj.bias", dtype, 0.2f, h));
            tensors.Add(Norm(rng, b + "post_attention_layernorm.weight", dtype, h));
            tensors.Add(Matrix(rng, b + "mlp.gate_proj.weight", dtype, Scale(h), inter, h));
            tensors.Add(Matrix(rng, b + "mlp.up_proj.weight", dtype, Scale(h), inter, h));
            tensors.Add(Matrix(rng, b + "mlp.down_proj.weight", dtype, Scale(inter), h, inter));
        }
        tensors.Add(Norm(rng, "model.norm.weight", dtype, h));
        if (!s.Tied) tensors.Add(Matrix(rng, "lm_head.weight", dtype, Scale(h), s.Vocab, h));

        var modelType = s.Architecture switch
        {
            "MistralForCausalLM" => "mistral",
            "Qwen2ForCausalLM" => "qwen2",
            _ => "llama",
        };
        var config = new JsonObject
        {
            ["architectures"] = new JsonArray(s.Architecture),
            ["model_type"] = modelType,
            ["hidden_size"] = h,
            ["num_hidden_layers"] = s.Layers,
            ["num_attention_heads"] = s.Heads,
            ["num_key_value_heads"] = s.KvHeads,
            ["intermediate_size"] = inter,
            ["vocab_size"] = s.Vocab,
            ["max_position_embeddings"] = s.MaxPositions,
            ["rms_norm_eps"] = s.Epsilon,
            ["hidden_act"] = "silu",
            ["tie_word_embeddings"] = s.Tied,
            ["bos_token_id"] = 1,
            ["eos_token_id"] = 2,
            ["torch_dtype"] = TorchName(dtype),
        };
        if (s.HeadDim is { } hd) config["head_dim"] = hd;
        if (s.SlidingWindow is { } window) config["sliding_window"] = window;
        if (!s.IsQwen2) config["attention_bias"] = s.AttentionBias;
        JsonObject? scaling = s.Llama3Scaling
            ? new JsonObject
            {
                ["rope_type"] = "llama3",
                ["factor"] = s.ScalingFactor,
                ["low_freq_factor"] = 1.0,
                ["high_freq_factor"] = 4.0,
                ["original_max_position_embeddings"] = s.OriginalMaxPositions,
            }
            : null;
        if (s.Transformers5RopeParameters)
        {
            var rope = scaling ?? new JsonObject { ["rope_type"] = "default" };
            rope["rope_theta"] = s.Theta;
            config["rope_parameters"] = rope;
        }
        else
        {
            config["rope_theta"] = s.Theta;
            if (scaling is not null) config["rope_scaling"] = scaling;
        }
        return Save(directory, config, tensors, llama: s);
    }

    public static void WriteConfig(string directory, JsonObject config) =>
        File.WriteAllText(Path.Combine(directory, "config.json"), config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));

    /// <summary>Splits the weights into <paramref name="shards"/> files with an index, as save_pretrained does for big models.</summary>
    public static void Shard(TestModel model, int shards)
    {
        File.Delete(Path.Combine(model.Directory, "model.safetensors"));
        var map = new JsonObject();
        var per = (model.Tensors.Count + shards - 1) / shards;
        for (var i = 0; i < shards; i++)
        {
            var name = $"model-{i + 1:D5}-of-{shards:D5}.safetensors";
            var part = model.Tensors.Skip(i * per).Take(per).ToList();
            SafetensorsWriter.Write(Path.Combine(model.Directory, name), part);
            foreach (var t in part) map[t.Name] = name;
        }
        var index = new JsonObject { ["metadata"] = new JsonObject { ["total_size"] = 0 }, ["weight_map"] = map };
        File.WriteAllText(Path.Combine(model.Directory, WeightCatalog.IndexFileName), index.ToJsonString());
    }

    private static TestModel Save(string directory, JsonObject config, List<TestTensor> tensors, Gpt2Shape? gpt2 = null, LlamaShape? llama = null)
    {
        Directory.CreateDirectory(directory);
        var model = new TestModel { Directory = directory, Config = config, Tensors = tensors, Gpt2 = gpt2, Llama = llama };
        model.SaveConfig();
        model.SaveWeights();
        return model;
    }

    private static float Scale(int fanIn) => 1.5f / MathF.Sqrt(fanIn);

    private static TestTensor Matrix(Random rng, string name, TensorDType dtype, float scale, params int[] shape)
    {
        var n = shape.Aggregate(1, (a, b) => a * b);
        var values = new float[n];
        for (var i = 0; i < n; i++) values[i] = SafetensorsWriter.Round((float)(rng.NextDouble() * 2 - 1) * scale, dtype);
        return new TestTensor(name, shape.Select(d => (long)d).ToArray(), values, dtype);
    }

    private static TestTensor Norm(Random rng, string name, TensorDType dtype, int size)
    {
        var values = new float[size];
        for (var i = 0; i < size; i++) values[i] = SafetensorsWriter.Round(1f + (float)(rng.NextDouble() * 2 - 1) * 0.2f, dtype);
        return new TestTensor(name, new long[] { size }, values, dtype);
    }

    private static string TorchName(TensorDType dtype) => dtype switch
    {
        TensorDType.F16 => "float16",
        TensorDType.BF16 => "bfloat16",
        _ => "float32",
    };
}
