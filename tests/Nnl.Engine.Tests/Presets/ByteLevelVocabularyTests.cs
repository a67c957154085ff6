using Nnl.Engine.Models.Synthetic;
using Nnl.Engine.Tokenizers;

namespace Nnl.Engine.Tests.Presets;

public sealed class ByteLevelVocabularyTests
{
    private static BpeTokenizer Load(SyntheticModel m, out ByteLevelVocabulary vocab)
    {
        vocab = ByteLevelVocabulary.For(m.Config);
        using var ms = new MemoryStream();
        vocab.WriteTokenizerJson(ms);
        return TokenizerLoader.FromTokenizerJson(System.Text.Encoding.UTF8.GetString(ms.ToArray()), "tokenizer.json", vocab.TokenizerConfigJson(m.Config));
    }

    [Theory]
    [InlineData("gpt2", 50256, "<|endoftext|>")]
    [InlineData("llama-2-7b", 2, "</s>")]
    [InlineData("llama-3-8b", 128001, "<|end_of_text|>")]
    [InlineData("qwen2-7b", 151643, "<|endoftext|>")]
    public void Vocabulary_fills_the_model_and_puts_specials_at_the_config_ids(string preset, int eos, string eosText)
    {
        var m = SyntheticModel.FromPreset(preset, layers: 1);
        var tokenizer = Load(m, out var vocab);
        Assert.Equal(m.Config.VocabSize, vocab.Tokens.Count);
        Assert.Equal(vocab.Tokens.Count, vocab.Tokens.Distinct().Count());
        Assert.Equal(eosText, vocab.Tokens[eos]);
        Assert.Equal(eos, tokenizer.EosTokenId);
        Assert.True(tokenizer.IsSpecial(eos));
        Assert.Equal(m.Config.VocabSize, tokenizer.VocabSize);
    }

    [Fact]
    public void Text_round_trips_and_common_pairs_merge()
    {
        var m = SyntheticModel.FromPreset("gpt2", layers: 1);
        var tokenizer = Load(m, out _);
        var text = "Hello, world! Nnl runs models larger than GPU memory: ünïcödé and 数字 too.\n";
        var ids = tokenizer.Encode(text, addSpecialTokens: false);
        Assert.Equal(text, tokenizer.Decode(ids));
        // Pairs of common bytes are single tokens, so English takes fewer tokens than bytes.
        Assert.True(ids.Count < System.Text.Encoding.UTF8.GetByteCount(text) * 3 / 4, $"{ids.Count} tokens");
        Assert.Single(tokenizer.Encode(" t", addSpecialTokens: false));
    }

    [Fact]
    public void Every_id_decodes()
    {
        var m = SyntheticModel.FromPreset("llama-2-7b", layers: 1);
        var tokenizer = Load(m, out _);
        var rng = new Random(4);
        for (var i = 0; i < 2000; i++)
        {
            var id = rng.Next(m.Config.VocabSize);
            Assert.False(tokenizer.TokenBytes(id).IsEmpty, $"id {id}");
        }
    }
}

public sealed class ByteLevelVocabularyHuggingFaceTests
{
    /// <summary>Ids from Hugging Face tokenizers (the Rust library PreTrainedTokenizerFast wraps) for tokenizer.json files New-NnlModel wrote; tools/reference/hf-tokenizer-ids.js made the fixture.</summary>
    [Fact]
    public void Nnl_encodes_the_generated_vocabulary_as_huggingface_tokenizers_does()
    {
        using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(RepoPaths.Fixtures, "Presets", "hf-tokenizers-ids.json")));
        var cases = doc.RootElement.GetProperty("cases").EnumerateArray().ToList();
        Assert.Equal(10, cases.Count);
        var tokenizers = new Dictionary<string, BpeTokenizer>();
        foreach (var c in cases)
        {
            var preset = c.GetProperty("preset").GetString()!;
            if (!tokenizers.TryGetValue(preset, out var tokenizer))
            {
                var config = SyntheticModel.FromPreset(preset, layers: 1).Config;
                var vocab = ByteLevelVocabulary.For(config);
                using var ms = new MemoryStream();
                vocab.WriteTokenizerJson(ms);
                tokenizers[preset] = tokenizer = TokenizerLoader.FromTokenizerJson(System.Text.Encoding.UTF8.GetString(ms.ToArray()), "tokenizer.json", vocab.TokenizerConfigJson(config));
            }
            var text = c.GetProperty("text").GetString()!;
            var expected = c.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            Assert.Equal(expected, tokenizer.Encode(text, addSpecialTokens: false));
            Assert.Equal(text, tokenizer.Decode(expected));
        }
    }
}
