using System.Text.Json.Nodes;

namespace Nnl.Engine.Tests.Presets;

/// <summary>Small configs of each architecture, and temporary directories that clean up after themselves.</summary>
internal static class TinyConfigs
{
    public static JsonObject Llama() => new()
    {
        ["architectures"] = new JsonArray("LlamaForCausalLM"),
        ["model_type"] = "llama",
        ["hidden_size"] = 64,
        ["intermediate_size"] = 160,
        ["num_attention_heads"] = 4,
        ["num_key_value_heads"] = 2,
        ["num_hidden_layers"] = 4,
        ["vocab_size"] = 300,
        ["max_position_embeddings"] = 128,
        ["rms_norm_eps"] = 1e-5,
        ["rope_theta"] = 10000.0,
        ["bos_token_id"] = 1,
        ["eos_token_id"] = 2,
        ["tie_word_embeddings"] = false,
    };

    public static JsonObject Qwen2()
    {
        var c = Llama();
        c["architectures"] = new JsonArray("Qwen2ForCausalLM");
        c["model_type"] = "qwen2";
        c["vocab_size"] = 320;
        c["bos_token_id"] = 300;
        c["eos_token_id"] = 300;
        return c;
    }

    public static JsonObject Gpt2() => new()
    {
        ["architectures"] = new JsonArray("GPT2LMHeadModel"),
        ["model_type"] = "gpt2",
        ["n_embd"] = 48,
        ["n_head"] = 4,
        ["n_layer"] = 3,
        ["n_positions"] = 96,
        ["vocab_size"] = 290,
        ["bos_token_id"] = 289,
        ["eos_token_id"] = 289,
        ["layer_norm_epsilon"] = 1e-5,
    };

    /// <summary>Writes <paramref name="config"/> as config.json in a fresh directory and returns the file's path.</summary>
    public static string WriteConfig(TempDirectory dir, JsonObject config)
    {
        var path = Path.Combine(dir.Path, "config.json");
        File.WriteAllText(path, config.ToJsonString());
        return path;
    }
}

internal sealed class TempDirectory : IDisposable
{
    public TempDirectory()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "nnl-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string Sub(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}

/// <summary>A disk that has exactly this much room.</summary>
internal sealed class FixedFreeSpace(long bytes) : Nnl.Engine.Models.Synthetic.IFreeSpaceProvider
{
    public List<string> Asked { get; } = new();

    public long AvailableBytes(string directory)
    {
        Asked.Add(directory);
        return bytes;
    }
}
