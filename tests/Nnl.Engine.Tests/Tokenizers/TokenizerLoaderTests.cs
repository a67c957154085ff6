using System.Text.Json.Nodes;
using Nnl.Engine.Tokenizers;

namespace Nnl.Engine.Tests.Tokenizers;

/// <summary>Loading from model directories and files, and every kind of bad file the loader names.</summary>
public sealed class TokenizerLoaderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("nnl-tok-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly (string, string)[] Merges = [("l", "l"), ("▁", "h"), ("e", "ll"), ("▁h", "ell")];
    private static string GoodJson() => TestTokenizers.Llama2Json(["▁", "h", "e", "l", "ll", "▁h", "ell", "▁hell"], Merges);

    private string Write(string name, string content)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, content);
        return path;
    }

    private NnlTokenizerFormatException LoadFails(string tokenizerJson)
    {
        var file = Write("tokenizer.json", tokenizerJson);
        var e = Assert.Throws<NnlTokenizerFormatException>(() => TokenizerLoader.Load(_dir));
        Assert.Equal(file, e.FilePath);
        Assert.Contains(file, e.Message);
        Assert.Equal("TokenizerFormatInvalid", e.ErrorId);
        Assert.Equal("InvalidData", e.Category);
        return e;
    }

    private static string Edit(Action<JsonObject> edit)
    {
        var root = JsonNode.Parse(GoodJson())!.AsObject();
        edit(root);
        return root.ToJsonString();
    }

    [Fact]
    public void Loads_FromDirectory_AndFromTheFile()
    {
        var file = Write("tokenizer.json", GoodJson());
        var fromDir = TokenizerLoader.Load(_dir);
        var fromFile = TokenizerLoader.Load(file);
        Assert.Equal("SentencePieceBpe", fromDir.Kind);
        Assert.Equal(fromDir.Encode("hell hello"), fromFile.Encode("hell hello"));
    }

    [Fact]
    public void InvalidJson_NamesTheLine()
    {
        var good = GoodJson();
        Assert.Contains("invalid JSON", LoadFails(good[..(good.Length / 2)]).Problem);
        Assert.Contains("line 3", LoadFails("{\n \"model\": {\n  ,}\n}").Problem);
    }

    [Fact]
    public void UnsupportedModelType_IsNamed() =>
        Assert.Contains("Unigram", LoadFails(Edit(r => r["model"]!["type"] = "Unigram")).Problem);

    [Fact]
    public void MergeOfUnknownTokens_IsNamed() =>
        Assert.Contains("merge 4 (\"x y\")", LoadFails(Edit(r => r["model"]!["merges"]!.AsArray().Add("x y"))).Problem);

    [Fact]
    public void MergeThatIsNotTwoTokens_IsNamed() =>
        Assert.Contains("model.merges[4]", LoadFails(Edit(r => r["model"]!["merges"]!.AsArray().Add("a b c"))).Problem);

    [Fact]
    public void VocabularyIdThatIsNotANumber_IsNamed() =>
        Assert.Contains("model.vocab[\"h\"]", LoadFails(Edit(r => r["model"]!["vocab"]!["h"] = "7")).Problem);

    [Fact]
    public void MissingVocabulary_IsNamed() =>
        Assert.Contains("model.vocab is missing", LoadFails(Edit(r => r["model"]!.AsObject().Remove("vocab"))).Problem);

    [Fact]
    public void UnsupportedPreTokenizer_IsNamed() =>
        Assert.Contains("pre_tokenizer.type \"Whitespace\"", LoadFails(Edit(r => r["pre_tokenizer"] = new JsonObject { ["type"] = "Whitespace" })).Problem);

    [Fact]
    public void SplitPatternDotNetCannotParse_IsNamed() =>
        Assert.Contains("(unclosed", LoadFails(Edit(r => r["pre_tokenizer"] = new JsonObject
        {
            ["type"] = "Split", ["pattern"] = new JsonObject { ["Regex"] = "(unclosed" }, ["behavior"] = "Isolated",
        })).Problem);

    [Fact]
    public void AddedTokenWithoutId_IsNamed() =>
        Assert.Contains("added_tokens[1].id", LoadFails(Edit(r => r["added_tokens"]![1]!.AsObject().Remove("id"))).Problem);

    [Fact]
    public void UnkTokenOutsideTheVocabulary_IsNamed() =>
        Assert.Contains("<nope>", LoadFails(Edit(r => r["model"]!["unk_token"] = "<nope>")).Problem);

    [Fact]
    public void DirectoryWithoutTokenizer_IsNamed()
    {
        var e = Assert.Throws<NnlTokenizerFormatException>(() => TokenizerLoader.Load(_dir));
        Assert.Contains("tokenizer.json", e.Message);
    }

    [Fact]
    public void MissingPath_IsAnArgumentError() =>
        Assert.Equal("Path", Assert.Throws<NnlArgumentException>(() => TokenizerLoader.Load(Path.Combine(_dir, "absent"))).ParameterName);

    [Fact]
    public void VocabJsonWithoutMerges_NamesMergesTxt()
    {
        File.Copy(Path.Combine(Gpt2ParityTests.Gpt2Directory, "vocab.json"), Path.Combine(_dir, "vocab.json"));
        var e = Assert.Throws<NnlTokenizerFormatException>(() => TokenizerLoader.Load(_dir));
        Assert.Equal(Path.Combine(_dir, "merges.txt"), e.FilePath);
    }

    [Fact]
    public void BadMergesLine_IsNamedByLineNumber()
    {
        Write("vocab.json", "{\"a\": 0, \"b\": 1, \"ab\": 2}");
        var merges = Write("merges.txt", "#version: 0.2\na b\nab\n");
        var e = Assert.Throws<NnlTokenizerFormatException>(() => TokenizerLoader.Load(_dir));
        Assert.Equal(merges, e.FilePath);
        Assert.Contains("line 3", e.Problem);
    }

    [Fact]
    public void BadTokenizerConfig_IsNamed()
    {
        Write("tokenizer.json", GoodJson());
        var config = Write("tokenizer_config.json", "{\"bos_token\": 5}");
        var e = Assert.Throws<NnlTokenizerFormatException>(() => TokenizerLoader.Load(_dir));
        Assert.Equal(config, e.FilePath);
        Assert.Contains("bos_token", e.Problem);
    }

    [Fact]
    public void TokenizerConfig_AddBosAndEos_OverrideThePostProcessor()
    {
        Write("tokenizer.json", GoodJson());
        Write("tokenizer_config.json", "{\"add_bos_token\": false, \"add_eos_token\": true, \"bos_token\": {\"content\": \"<s>\"}, \"eos_token\": \"</s>\"}");
        var t = TokenizerLoader.Load(_dir);
        Assert.True(t.TryGetId("▁hell", out int hell));
        Assert.Equal([hell, 2], t.Encode("hell"));
    }

    [Fact]
    public void Gpt2Config_AddsBosWhenAsked_AndNamesTheSpecialTokens()
    {
        foreach (var f in new[] { "vocab.json", "merges.txt" })
            File.Copy(Path.Combine(Gpt2ParityTests.Gpt2Directory, f), Path.Combine(_dir, f));
        Write("tokenizer_config.json", "{\"add_bos_token\": true, \"bos_token\": \"<|endoftext|>\", \"eos_token\": \"<|endoftext|>\"}");
        var t = TokenizerLoader.Load(_dir);
        Assert.Equal([50256, 15496], t.Encode("Hello"));
        Assert.Equal([15496], t.Encode("Hello", addSpecialTokens: false));
        Assert.True(t.IsSpecial(50256));
    }

    [Fact]
    public void OutOfRangeIds_AreArgumentErrors()
    {
        var t = TokenizerLoader.FromTokenizerJson(GoodJson());
        Assert.Equal("Ids", Assert.Throws<NnlArgumentException>(() => t.Decode([t.VocabSize])).ParameterName);
        Assert.Throws<NnlArgumentException>(() => t.TokenText(-1));
    }
}
