using System.Text.Json;

namespace Nnl.Engine.Models;

/// <summary>config.json → <see cref="ModelConfig"/> for GPT-2 and the Llama family (transformers 4.x and 5.x spellings).</summary>
internal static class ModelConfigReader
{
    public static ModelConfig Load(string directory)
    {
        var path = System.IO.Path.GetFullPath(System.IO.Path.Combine(directory, "config.json"));
        var (doc, json) = JsonFields.ReadFile(path);
        using (doc) return Parse(json);
    }

    public static ModelConfig Parse(JsonFields json)
    {
        var modelType = json.OptionalString("model_type");
        string? architecture = null;
        if (json.Root.TryGetProperty("architectures", out var archs) && archs.ValueKind == JsonValueKind.Array && archs.GetArrayLength() > 0)
            architecture = archs[0].ValueKind == JsonValueKind.String ? archs[0].GetString() : null;

        architecture ??= modelType switch
        {
            "gpt2" => "GPT2LMHeadModel",
            "llama" => "LlamaForCausalLM",
            "mistral" => "MistralForCausalLM",
            "qwen2" => "Qwen2ForCausalLM",
            _ => null,
        };
        return architecture switch
        {
            "GPT2LMHeadModel" or "GPT2Model" => ParseGpt2(json, modelType ?? "gpt2"),
            "LlamaForCausalLM" => ParseLlama(json, "LlamaForCausalLM", modelType ?? "llama"),
            "MistralForCausalLM" => ParseLlama(json, "MistralForCausalLM", modelType ?? "mistral"),
            "Qwen2ForCausalLM" => ParseLlama(json, "Qwen2ForCausalLM", modelType ?? "qwen2"),
            null => throw json.Error("neither \"architectures\" nor a known \"model_type\" says which architecture this is"),
            _ => throw json.Error($"architecture {architecture} is not supported (Nnl runs GPT2LMHeadModel, LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM)"),
        };
    }

    private static ModelConfig ParseGpt2(JsonFields json, string modelType)
    {
        var hidden = json.PositiveInt("n_embd");
        var heads = json.PositiveInt("n_head");
        if (hidden % heads != 0) throw json.Error($"n_embd {hidden} is not a multiple of n_head {heads}");
        var activation = json.OptionalString("activation_function") ?? "gelu_new";
        if (activation is not ("gelu_new" or "gelu_pytorch_tanh"))
            throw json.Error($"activation_function \"{activation}\" is not supported (GPT-2 uses gelu_new)");
        if (json.OptionalBool("scale_attn_by_inverse_layer_idx") == true)
            throw json.Error("scale_attn_by_inverse_layer_idx is not supported");
        if (json.OptionalBool("scale_attn_weights") == false)
            throw json.Error("scale_attn_weights=false is not supported");

        return new ModelConfig
        {
            Architecture = "GPT2LMHeadModel",
            ModelType = modelType,
            Family = ModelFamily.Gpt2,
            HiddenSize = hidden,
            LayerCount = json.PositiveInt("n_layer"),
            HeadCount = heads,
            KvHeadCount = heads,
            HeadDim = hidden / heads,
            IntermediateSize = json.PositiveInt("n_inner", 4 * hidden),
            VocabSize = json.PositiveInt("vocab_size"),
            MaxPositions = json.PositiveInt("n_positions", json.OptionalInt("n_ctx") ?? 1024),
            NormEpsilon = Epsilon(json, "layer_norm_epsilon", 1e-5),
            Activation = "gelu_new",
            TieWordEmbeddings = json.OptionalBool("tie_word_embeddings") ?? true,
            QkvBias = true,
            OutputProjectionBias = true,
            MlpBias = true,
            DeclaredDType = json.OptionalString("dtype") ?? json.OptionalString("torch_dtype"),
            BosTokenId = json.OptionalInt("bos_token_id"),
            EosTokenIds = json.IntOrIntList("eos_token_id"),
            SourcePath = json.Path,
        };
    }

    private static ModelConfig ParseLlama(JsonFields json, string architecture, string modelType)
    {
        var hidden = json.PositiveInt("hidden_size");
        var heads = json.PositiveInt("num_attention_heads");
        var kvHeads = json.PositiveInt("num_key_value_heads", heads);
        if (heads % kvHeads != 0) throw json.Error($"num_attention_heads {heads} is not a multiple of num_key_value_heads {kvHeads}");
        int headDim;
        if (json.Has("head_dim")) headDim = json.PositiveInt("head_dim");
        else if (hidden % heads != 0) throw json.Error($"hidden_size {hidden} is not a multiple of num_attention_heads {heads} and no head_dim is given");
        else headDim = hidden / heads;
        if (headDim % 2 != 0) throw json.Error($"head dimension {headDim} is odd; rotary embedding needs pairs");

        var activation = json.OptionalString("hidden_act") ?? "silu";
        if (activation != "silu") throw json.Error($"hidden_act \"{activation}\" is not supported (the Llama family uses silu)");

        var isQwen2 = architecture == "Qwen2ForCausalLM";
        var attentionBias = json.OptionalBool("attention_bias") ?? false;
        var (theta, scaling) = ReadRope(json);

        int? slidingWindow = null;
        if (architecture == "MistralForCausalLM")
        {
            slidingWindow = json.OptionalInt("sliding_window");
            if (slidingWindow is <= 0) throw json.Error($"sliding_window {slidingWindow} must be positive");
        }
        if (isQwen2 && json.OptionalBool("use_sliding_window") == true)
            throw json.Error("use_sliding_window=true is not supported");

        return new ModelConfig
        {
            Architecture = architecture,
            ModelType = modelType,
            Family = ModelFamily.Llama,
            HiddenSize = hidden,
            LayerCount = json.PositiveInt("num_hidden_layers"),
            HeadCount = heads,
            KvHeadCount = kvHeads,
            HeadDim = headDim,
            IntermediateSize = json.PositiveInt("intermediate_size"),
            VocabSize = json.PositiveInt("vocab_size"),
            MaxPositions = json.PositiveInt("max_position_embeddings", 2048),
            NormEpsilon = Epsilon(json, "rms_norm_eps", 1e-6),
            Activation = "silu",
            TieWordEmbeddings = json.OptionalBool("tie_word_embeddings") ?? false,
            QkvBias = isQwen2 || attentionBias,
            OutputProjectionBias = !isQwen2 && attentionBias,
            MlpBias = !isQwen2 && (json.OptionalBool("mlp_bias") ?? false),
            RopeTheta = theta,
            RopeScaling = scaling,
            SlidingWindow = slidingWindow,
            DeclaredDType = json.OptionalString("dtype") ?? json.OptionalString("torch_dtype"),
            BosTokenId = json.OptionalInt("bos_token_id"),
            EosTokenIds = json.IntOrIntList("eos_token_id"),
            SourcePath = json.Path,
        };
    }

    private static double Epsilon(JsonFields json, string key, double fallback)
    {
        var eps = json.OptionalDouble(key) ?? fallback;
        if (!(eps > 0) || eps >= 1) throw json.Error($"\"{key}\" is {eps}; it must be a small positive number");
        return eps;
    }

    /// <summary>transformers 5 writes "rope_parameters" {rope_type, rope_theta, ...}; 4.x writes rope_theta and rope_scaling.</summary>
    private static (double Theta, RopeScaling? Scaling) ReadRope(JsonFields json)
    {
        var parameters = json.Object("rope_parameters") ?? json.Object("rope_scaling");
        var theta = json.OptionalDouble("rope_theta") ?? parameters?.OptionalDouble("rope_theta") ?? 10000;
        if (!(theta > 1)) throw json.Error($"rope_theta {theta} must be greater than 1");
        if (parameters is not { } p) return (theta, null);

        var type = p.OptionalString("rope_type") ?? p.OptionalString("type") ?? "default";
        switch (type)
        {
            case "default":
                return (theta, null);
            case "linear":
            {
                var factor = p.OptionalDouble("factor") ?? throw json.Error("linear rope scaling needs \"factor\"");
                if (!(factor >= 1)) throw json.Error($"rope scaling factor {factor} must be at least 1");
                return (theta, new RopeScaling("linear", factor));
            }
            case "llama3":
            {
                var factor = p.OptionalDouble("factor") ?? throw json.Error("llama3 rope scaling needs \"factor\"");
                var low = p.OptionalDouble("low_freq_factor") ?? throw json.Error("llama3 rope scaling needs \"low_freq_factor\"");
                var high = p.OptionalDouble("high_freq_factor") ?? throw json.Error("llama3 rope scaling needs \"high_freq_factor\"");
                var original = p.OptionalInt("original_max_position_embeddings") ?? throw json.Error("llama3 rope scaling needs \"original_max_position_embeddings\"");
                if (!(factor >= 1) || !(low > 0) || !(high > low) || original <= 0)
                    throw json.Error($"llama3 rope scaling (factor {factor}, low_freq_factor {low}, high_freq_factor {high}, original_max_position_embeddings {original}) is inconsistent");
                return (theta, new RopeScaling("llama3", factor, low, high, original));
            }
            default:
                throw json.Error($"rope_type \"{type}\" is not supported (default, linear and llama3 are)");
        }
    }
}
