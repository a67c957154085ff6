using System.Text.Json.Nodes;
using Nnl.Engine.Commands;
using Nnl.Engine.Models;
using Nnl.Engine.Models.Synthetic;

namespace Nnl.Engine.Tests.Presets;

public sealed class ConfigValidationTests
{
    private static NnlModelFormatException Rejected(JsonObject config)
    {
        using var dir = new TempDirectory();
        var path = TinyConfigs.WriteConfig(dir, config);
        var e = Assert.Throws<NnlModelFormatException>(() => SyntheticModel.FromConfigFile(path));
        Assert.Contains(path, e.Message);
        return e;
    }

    [Fact]
    public void Missing_field_is_named()
    {
        var c = TinyConfigs.Llama();
        c.Remove("hidden_size");
        Assert.Contains("\"hidden_size\" is missing", Rejected(c).Message);
    }

    [Fact]
    public void Wrongly_typed_field_is_named_with_its_value()
    {
        var c = TinyConfigs.Llama();
        c["num_hidden_layers"] = "four";
        Assert.Contains("\"num_hidden_layers\" is \"four\", not an integer", Rejected(c).Message);
    }

    [Fact]
    public void Heads_that_do_not_divide_are_named()
    {
        var c = TinyConfigs.Llama();
        c["num_key_value_heads"] = 3;
        var m = Rejected(c).Message;
        Assert.Contains("num_attention_heads 4", m);
        Assert.Contains("num_key_value_heads 3", m);
    }

    [Fact]
    public void Vocabulary_too_small_for_the_byte_tokenizer_is_named()
    {
        var c = TinyConfigs.Llama();
        c["vocab_size"] = 200;
        Assert.Contains("\"vocab_size\" is 200", Rejected(c).Message);
    }

    [Fact]
    public void Special_id_outside_the_vocabulary_is_named()
    {
        var c = TinyConfigs.Gpt2();
        c["eos_token_id"] = 5000;
        Assert.Contains("\"eos_token_id\" is 5000", Rejected(c).Message);
    }

    [Fact]
    public void Unsupported_architecture_is_named()
    {
        var c = TinyConfigs.Llama();
        c["architectures"] = new JsonArray("MixtralForCausalLM");
        Assert.Contains("MixtralForCausalLM is not supported", Rejected(c).Message);
    }

    [Fact]
    public void Invalid_json_gives_its_line()
    {
        using var dir = new TempDirectory();
        var path = Path.Combine(dir.Path, "config.json");
        File.WriteAllText(path, "{\n  \"hidden_size\": 64,\n  \"vocab_size\": ]\n}");
        var e = Assert.Throws<NnlModelFormatException>(() => SyntheticModel.FromConfigFile(path));
        Assert.Contains("line 3", e.Message);
    }

    [Fact]
    public void Missing_file_and_bad_parameters_are_argument_errors()
    {
        Assert.Equal("Config", Assert.Throws<NnlArgumentException>(() => SyntheticModel.FromConfigFile("/nonexistent/nnl/config.json")).ParameterName);
        Assert.Equal("Layers", Assert.Throws<NnlArgumentException>(() => SyntheticModel.FromPreset("gpt2", layers: 0)).ParameterName);
        Assert.Throws<NnlArgumentException>(() => new NewModelCommand { Preset = "gpt2", Config = "x", Path = "/tmp/x" }.Describe());
        Assert.Throws<NnlArgumentException>(() => new NewModelCommand { Path = "/tmp/x" }.Describe());
        Assert.Equal("Path", Assert.Throws<NnlArgumentException>(() => new NewModelCommand { Preset = "gpt2" }.Describe()).ParameterName);
        Assert.Equal("DType", Assert.Throws<NnlArgumentException>(() => new NewModelCommand { Preset = "gpt2", Path = "/tmp/x", DType = "fp8" }.Describe()).ParameterName);
    }

    [Fact]
    public void A_directory_holding_config_json_is_accepted_and_layers_apply()
    {
        using var dir = new TempDirectory();
        TinyConfigs.WriteConfig(dir, TinyConfigs.Gpt2());
        var m = SyntheticModel.FromConfigFile(dir.Path, layers: 1);
        Assert.Equal(1, m.Config.LayerCount);
        Assert.Equal(1, (int)m.ConfigJson["n_layer"]!);
        Assert.Equal("GPT2LMHeadModel", m.Config.Architecture);
    }
}
