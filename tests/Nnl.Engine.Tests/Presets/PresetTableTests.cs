using Nnl.Engine.Models;
using Nnl.Engine.Models.Presets;
using Nnl.Engine.Models.Synthetic;

namespace Nnl.Engine.Tests.Presets;

public sealed class PresetTableTests
{
    // name, hidden, layers, heads, kv heads, intermediate, vocab, max positions, rope theta, norm epsilon, tied
    public static TheoryData<string, int, int, int, int, int, int, int, double, double, bool> Published => new()
    {
        { "gpt2", 768, 12, 12, 12, 3072, 50257, 1024, 10000, 1e-5, true },
        { "gpt2-medium", 1024, 24, 16, 16, 4096, 50257, 1024, 10000, 1e-5, true },
        { "gpt2-large", 1280, 36, 20, 20, 5120, 50257, 1024, 10000, 1e-5, true },
        { "gpt2-xl", 1600, 48, 25, 25, 6400, 50257, 1024, 10000, 1e-5, true },
        { "llama-2-7b", 4096, 32, 32, 32, 11008, 32000, 4096, 10000, 1e-5, false },
        { "llama-2-13b", 5120, 40, 40, 40, 13824, 32000, 4096, 10000, 1e-5, false },
        { "llama-2-70b", 8192, 80, 64, 8, 28672, 32000, 4096, 10000, 1e-5, false },
        { "llama-3-8b", 4096, 32, 32, 8, 14336, 128256, 8192, 500000, 1e-5, false },
        { "llama-3-70b", 8192, 80, 64, 8, 28672, 128256, 8192, 500000, 1e-5, false },
        { "mistral-7b", 4096, 32, 32, 8, 14336, 32000, 32768, 10000, 1e-5, false },
        { "qwen2-7b", 3584, 28, 28, 4, 18944, 152064, 131072, 1000000, 1e-6, false },
    };

    [Theory]
    [MemberData(nameof(Published))]
    public void Preset_config_reads_back_as_the_published_shape(string name, int hidden, int layers, int heads, int kvHeads,
        int intermediate, int vocab, int maxPositions, double theta, double eps, bool tied)
    {
        var c = SyntheticModel.FromPreset(name).Config;
        Assert.Equal(hidden, c.HiddenSize);
        Assert.Equal(layers, c.LayerCount);
        Assert.Equal(heads, c.HeadCount);
        Assert.Equal(kvHeads, c.KvHeadCount);
        Assert.Equal(intermediate, c.IntermediateSize);
        Assert.Equal(vocab, c.VocabSize);
        Assert.Equal(maxPositions, c.MaxPositions);
        Assert.Equal(eps, c.NormEpsilon);
        Assert.Equal(tied, c.TieWordEmbeddings);
        if (c.Family == ModelFamily.Llama) Assert.Equal(theta, c.RopeTheta);
    }

    [Fact]
    public void Architecture_specific_fields_are_kept()
    {
        var mistral = SyntheticModel.FromPreset("mistral-7b").Config;
        Assert.Equal("MistralForCausalLM", mistral.Architecture);
        Assert.Equal(4096, mistral.SlidingWindow);
        Assert.NotNull(ModelPresets.Find("mistral-7b").Note);

        var qwen = SyntheticModel.FromPreset("qwen2-7b").Config;
        Assert.Equal("Qwen2ForCausalLM", qwen.Architecture);
        Assert.True(qwen.QkvBias);
        Assert.False(qwen.OutputProjectionBias);

        var llama3 = SyntheticModel.FromPreset("llama-3-8b").Config;
        Assert.Equal(128000, llama3.BosTokenId);
        Assert.Equal(new[] { 128001 }, llama3.EosTokenIds);
    }

    // Published parameter counts (the four, and the model cards' for the rest).
    [Theory]
    [InlineData("gpt2-xl", 1_557_611_200L)]
    [InlineData("llama-2-7b", 6_738_415_616L)]
    [InlineData("llama-2-13b", 13_015_864_320L)]
    [InlineData("llama-3-8b", 8_030_261_248L)]
    [InlineData("gpt2", 124_439_808L)]
    [InlineData("gpt2-medium", 354_823_168L)]
    [InlineData("gpt2-large", 774_030_080L)]
    [InlineData("llama-2-70b", 68_976_648_192L)]
    [InlineData("llama-3-70b", 70_553_706_496L)]
    [InlineData("mistral-7b", 7_241_732_096L)]
    [InlineData("qwen2-7b", 7_615_616_512L)]
    public void Computation_table_over_the_preset_tensors_counts_the_published_parameters(string preset, long published)
    {
        var model = SyntheticModel.FromPreset(preset);
        var table = model.BuildTable();
        Assert.Equal(published, table.ParameterCount);
        // Every generated tensor is used by the table, and the bytes follow from the dtype.
        Assert.Equal(model.Tensors.Count, table.DistinctWeights.Count());
        Assert.Equal(published * 2, model.WeightBytes);
    }

    [Fact]
    public void Layers_cut_a_preset_down_block_by_block()
    {
        var full = SyntheticModel.FromPreset("llama-2-7b").ParameterCount;
        var two = SyntheticModel.FromPreset("llama-2-7b", layers: 2).ParameterCount;
        var three = SyntheticModel.FromPreset("llama-2-7b", layers: 3).ParameterCount;
        var block = three - two;
        // A Llama 2 7B block: q, k, v, o (4096²) + gate, up, down (4096·11008) + two norms.
        Assert.Equal(4L * 4096 * 4096 + 3L * 4096 * 11008 + 2 * 4096, block);
        Assert.Equal(full, two + 30 * block);

        var qwen = SyntheticModel.FromPreset("qwen2-7b", layers: 3);
        Assert.Equal(3, qwen.Config.LayerCount);
        Assert.Equal(3, (int)qwen.ConfigJson["max_window_layers"]!);
    }

    [Fact]
    public void Unknown_preset_names_the_known_ones()
    {
        var e = Assert.Throws<NnlArgumentException>(() => ModelPresets.Find("llama-4"));
        Assert.Equal("Preset", e.ParameterName);
        foreach (var p in ModelPresets.Names) Assert.Contains(p, e.Message);
        Assert.Same(ModelPresets.Find("gpt2-xl"), ModelPresets.Find("GPT2-XL"));
    }

    [Fact]
    public void DType_is_written_into_the_config_and_the_tensors()
    {
        foreach (var (dtype, name, bytes) in new[] { (TensorDType.F16, "float16", 2), (TensorDType.BF16, "bfloat16", 2), (TensorDType.F32, "float32", 4) })
        {
            var m = SyntheticModel.FromPreset("gpt2", layers: 1, dtype: dtype);
            Assert.Equal(name, (string)m.ConfigJson["torch_dtype"]!);
            Assert.Equal(name, m.Config.DeclaredDType);
            Assert.All(m.Tensors, t => Assert.Equal(t.ElementCount * bytes, t.ByteCount));
        }
        Assert.Throws<NnlArgumentException>(() => DTypeNames.Parse("int8"));
    }
}
