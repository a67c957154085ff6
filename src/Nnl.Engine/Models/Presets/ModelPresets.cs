namespace Nnl.Engine.Models.Presets;

/// <summary>
/// The published shapes New-NnlModel -Preset knows, each config.json as the model's authors
/// published it (transformers 4.x spelling; Nnl and transformers 5 read it alike).
/// </summary>
public static class ModelPresets
{
    private const string Gpt2Base = """
        "activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"], "attn_pdrop": 0.1,
        "bos_token_id": 50256, "embd_pdrop": 0.1, "eos_token_id": 50256, "initializer_range": 0.02,
        "layer_norm_epsilon": 1e-05, "model_type": "gpt2", "n_ctx": 1024, "n_positions": 1024,
        "resid_pdrop": 0.1, "summary_activation": null, "summary_first_dropout": 0.1, "summary_proj_to_labels": true,
        "summary_type": "cls_index", "summary_use_proj": true, "vocab_size": 50257, "torch_dtype": "float32"
        """;

    private static ModelPreset Gpt2(string name, string source, int embd, int layers, int heads) => new()
    {
        Name = name,
        Source = source,
        ConfigJson = $$"""{ {{Gpt2Base}}, "n_embd": {{embd}}, "n_layer": {{layers}}, "n_head": {{heads}} }""",
    };

    private static ModelPreset Llama2(string name, string source, int hidden, int layers, int heads, int kvHeads, int intermediate) => new()
    {
        Name = name,
        Source = source,
        ConfigJson = $$"""
            { "architectures": ["LlamaForCausalLM"], "bos_token_id": 1, "eos_token_id": 2, "hidden_act": "silu",
              "hidden_size": {{hidden}}, "initializer_range": 0.02, "intermediate_size": {{intermediate}},
              "max_position_embeddings": 4096, "model_type": "llama", "num_attention_heads": {{heads}},
              "num_hidden_layers": {{layers}}, "num_key_value_heads": {{kvHeads}}, "pretraining_tp": 1,
              "rms_norm_eps": 1e-05, "rope_scaling": null, "tie_word_embeddings": false, "torch_dtype": "float16",
              "vocab_size": 32000 }
            """,
    };

    private static ModelPreset Llama3(string name, string source, int hidden, int layers, int heads, int intermediate) => new()
    {
        Name = name,
        Source = source,
        ConfigJson = $$"""
            { "architectures": ["LlamaForCausalLM"], "attention_bias": false, "attention_dropout": 0.0,
              "bos_token_id": 128000, "eos_token_id": 128001, "hidden_act": "silu", "hidden_size": {{hidden}},
              "initializer_range": 0.02, "intermediate_size": {{intermediate}}, "max_position_embeddings": 8192,
              "model_type": "llama", "num_attention_heads": {{heads}}, "num_hidden_layers": {{layers}},
              "num_key_value_heads": 8, "pretraining_tp": 1, "rms_norm_eps": 1e-05, "rope_scaling": null,
              "rope_theta": 500000.0, "tie_word_embeddings": false, "torch_dtype": "bfloat16", "vocab_size": 128256 }
            """,
    };

    /// <summary>Every preset, smallest first within each family.</summary>
    public static IReadOnlyList<ModelPreset> All { get; } = new[]
    {
        Gpt2("gpt2", "openai-community/gpt2", 768, 12, 12),
        Gpt2("gpt2-medium", "openai-community/gpt2-medium", 1024, 24, 16),
        Gpt2("gpt2-large", "openai-community/gpt2-large", 1280, 36, 20),
        Gpt2("gpt2-xl", "openai-community/gpt2-xl", 1600, 48, 25),
        Llama2("llama-2-7b", "meta-llama/Llama-2-7b-hf", 4096, 32, 32, 32, 11008),
        Llama2("llama-2-13b", "meta-llama/Llama-2-13b-hf", 5120, 40, 40, 40, 13824),
        Llama2("llama-2-70b", "meta-llama/Llama-2-70b-hf", 8192, 80, 64, 8, 28672),
        Llama3("llama-3-8b", "meta-llama/Meta-Llama-3-8B", 4096, 32, 32, 14336),
        Llama3("llama-3-70b", "meta-llama/Meta-Llama-3-70B", 8192, 80, 64, 28672),
        new ModelPreset
        {
            Name = "mistral-7b",
            Source = "mistralai/Mistral-7B-v0.1",
            ConfigJson = """
                { "architectures": ["MistralForCausalLM"], "bos_token_id": 1, "eos_token_id": 2, "hidden_act": "silu",
                  "hidden_size": 4096, "initializer_range": 0.02, "intermediate_size": 14336,
                  "max_position_embeddings": 32768, "model_type": "mistral", "num_attention_heads": 32,
                  "num_hidden_layers": 32, "num_key_value_heads": 8, "rms_norm_eps": 1e-05, "rope_theta": 10000.0,
                  "sliding_window": 4096, "tie_word_embeddings": false, "torch_dtype": "bfloat16", "vocab_size": 32000 }
                """,
            Note = "sliding_window 4096: Nnl attends over the whole context; outputs match transformers up to 4096 tokens.",
        },
        new ModelPreset
        {
            Name = "qwen2-7b",
            Source = "Qwen/Qwen2-7B",
            ConfigJson = """
                { "architectures": ["Qwen2ForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 151643,
                  "eos_token_id": 151643, "hidden_act": "silu", "hidden_size": 3584, "initializer_range": 0.02,
                  "intermediate_size": 18944, "max_position_embeddings": 131072, "max_window_layers": 28,
                  "model_type": "qwen2", "num_attention_heads": 28, "num_hidden_layers": 28, "num_key_value_heads": 4,
                  "rms_norm_eps": 1e-06, "rope_theta": 1000000.0, "sliding_window": 131072, "tie_word_embeddings": false,
                  "torch_dtype": "bfloat16", "use_cache": true, "use_sliding_window": false, "vocab_size": 152064 }
                """,
        },
    };

    public static IEnumerable<string> Names => All.Select(p => p.Name);

    /// <summary>The preset called <paramref name="name"/> (case-insensitive), or a clear error listing them all.</summary>
    public static ModelPreset Find(string name)
    {
        if (string.IsNullOrWhiteSpace(name)) throw new NnlArgumentException("Preset", $"A preset name is required ({string.Join(", ", Names)}).");
        return All.FirstOrDefault(p => string.Equals(p.Name, name.Trim(), StringComparison.OrdinalIgnoreCase))
            ?? throw new NnlArgumentException("Preset", $"'{name}' is not a preset. Presets: {string.Join(", ", Names)}.");
    }
}
