using System.Text.Json;
using Nnl.Cli;
using Nnl.Engine.Commands;
using Nnl.Engine.Generation;
using Nnl.Engine.Tests.Models;
using Nnl.Engine.Tests.Tokenizers;
using Nnl.Engine.Tokenizers;

namespace Nnl.Engine.Tests.Cli;

/// <summary>
/// `nnl generate`, `nnl tokenize` and `nnl detokenize` end to end through CliApp.Run, on a tiny random
/// Llama with a byte-level tokenizer. What the CLI prints is compared with what the engine commands
/// produce on their own, so the tests check the surface, not the engine's numbers.
/// </summary>
public sealed class ModelVerbTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly string _prompt;

    public ModelVerbTests()
    {
        var model = TestModelWriter.WriteLlama(_dir.Path, new LlamaShape(Vocab: 1003, Hidden: 32, Layers: 2), seed: 517);
        model.Config["bos_token_id"] = TestTokenizers.Llama3Bos;
        model.Config["eos_token_id"] = TestTokenizers.Llama3Eos;
        model.SaveConfig();
        File.WriteAllText(_dir.File("tokenizer.json"), TestTokenizers.Llama3Json(Array.Empty<string>(), Array.Empty<(string, string)>()));
        var random = new Random(8123);
        _prompt = new string(Enumerable.Range(0, 12).Select(_ => (char)random.Next('a', 'z' + 1)).ToArray());
    }

    public void Dispose() => _dir.Dispose();

    private static (int Exit, string Out, string Err) Nnl(params string[] args)
    {
        var output = new StringWriter { NewLine = "\n" };
        var error = new StringWriter { NewLine = "\n" };
        var exit = CliApp.Run(args, output, error, TestContext.Current.CancellationToken);
        return (exit, output.ToString(), error.ToString());
    }

    /// <summary>The same generation through the engine commands, without the CLI.</summary>
    private NnlGenerationResult Expected(int maxNewTokens)
    {
        var sink = new CollectingSink(TestContext.Current.CancellationToken);
        new ImportModelCommand { Path = _dir.Path }.Execute(sink);
        var model = sink.RecordsOf<NnlModel>().Single();
        try
        {
            var run = new CollectingSink(TestContext.Current.CancellationToken);
            new InvokeGenerateCommand { Model = model, Prompt = [_prompt], MaxNewTokens = maxNewTokens }.Execute(run);
            return run.RecordsOf<NnlGenerationResult>().Single();
        }
        finally
        {
            new RemoveModelCommand { Model = [model] }.Execute(new CollectingSink());
        }
    }

    [Fact]
    public void GeneratePrintsTheTextThenItsStatistics()
    {
        var expected = Expected(9);
        var (exit, output, error) = Nnl("generate", _dir.Path, "--prompt", _prompt, "--max-new-tokens", "9");
        Assert.True(exit == 0, error);
        Assert.StartsWith(expected.Text + "\n", output);
        var table = output[(expected.Text.Length + 1)..].Split('\n');
        Assert.Contains("TokensPerSecond", table[0]);
        Assert.Contains("BoundMillisecondsPerToken", table[0]);
        Assert.Contains("Efficiency", table[0]);
        Assert.DoesNotContain("Text", table[0]);
        // One data row: prompt 0, its token counts and stop reason.
        var row = table[2].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["0", expected.PromptTokens.ToString(), expected.GeneratedTokens.ToString(), expected.StopReason.ToString()], row[..4]);
    }

    [Fact]
    public void StreamPrintsTokensAsTheyComeAndEndsTheLineBeforeTheStatistics()
    {
        var expected = Expected(11);
        // --stream before the directory: a flag must not swallow the positional argument.
        var (exit, output, error) = Nnl("generate", "--stream", _dir.Path, "--prompt", _prompt, "--max-new-tokens", "11");
        Assert.True(exit == 0, error);
        Assert.StartsWith(expected.Text + "\n", output);
        Assert.Contains("TokensPerSecond", output[(expected.Text.Length + 1)..].Split('\n')[0]);
    }

    [Fact]
    public void StreamAsJsonWritesEveryTokenThenTheResult()
    {
        var expected = Expected(7);
        var (exit, output, error) = Nnl("generate", _dir.Path, "--prompt", _prompt, "--max-new-tokens", "7", "--stream", "--json");
        Assert.True(exit == 0, error);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        var tokens = lines.Where(l => l.TryGetProperty("ElapsedMilliseconds", out _)).ToList();
        var result = Assert.Single(lines, l => l.TryGetProperty("TokensPerSecond", out _));
        Assert.Equal(expected.GeneratedTokens, tokens.Count);
        Assert.Equal(expected.TokenIds, tokens.Select(t => t.GetProperty("Id").GetInt32()));
        Assert.Equal(expected.Text, string.Concat(tokens.Select(t => t.GetProperty("Text").GetString())));
        Assert.Equal(expected.Text, result.GetProperty("Text").GetString());
        Assert.Equal(lines.Count - 1, lines.IndexOf(result));
    }

    [Fact]
    public void GenerateAsJsonWritesOneResultWithTheSameText()
    {
        var expected = Expected(6);
        var (exit, output, error) = Nnl("generate", _dir.Path, "--prompt", _prompt, "--max-new-tokens", "6", "--json");
        Assert.True(exit == 0, error);
        var line = Assert.Single(output.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        var result = JsonDocument.Parse(line).RootElement;
        Assert.Equal(expected.Text, result.GetProperty("Text").GetString());
        Assert.Equal(expected.PromptTokens, result.GetProperty("PromptTokens").GetInt32());
    }

    [Fact]
    public void SamplingOptionsReachTheGenerator()
    {
        string[] Run(int seed) => Nnl("generate", _dir.Path, "--prompt", _prompt, "--max-new-tokens", "12", "--temperature", "1.5",
            "--top-k", "0", "--top-p", "1", "--repetition-penalty", "1.1", "--seed", seed.ToString(), "--json") is var (exit, output, error) && exit == 0
            ? [JsonDocument.Parse(output).RootElement.GetProperty("Text").GetString()!, JsonDocument.Parse(output).RootElement.GetProperty("Seed").GetInt32().ToString()]
            : throw new Xunit.Sdk.XunitException(error);
        var a = Run(41);
        Assert.Equal(a, Run(41));
        Assert.Equal("41", a[1]);
        // Over 12 tokens from 1003 at temperature 1.5, ten seeds all matching seed 41 would be a broken seed.
        Assert.Contains(Enumerable.Range(100, 10), s => Run(s)[0] != a[0]);
    }

    [Theory]
    [InlineData(new[] { "--max-new-tokens", "4" }, "--prompt")]
    [InlineData(new[] { "--prompt", "x", "--max-gpu-memory", "2GB" }, "MaxGpuMemory")]
    [InlineData(new[] { "--prompt", "x", "--no-host-cache" }, "HostCache")]
    [InlineData(new[] { "--prompt", "x", "--no-cuda-graphs" }, "UseCudaGraphs")]
    [InlineData(new[] { "--prompt", "x", "--kv-cache", "fp16" }, "KvCacheType")]
    [InlineData(new[] { "--prompt", "x", "--kv-cache", "int4", "--device", "Cuda" }, "KvCacheType")]
    [InlineData(new[] { "--prompt", "x", "--resident-layers", "some" }, "--resident-layers")]
    [InlineData(new[] { "--prompt", "x", "--device", "tpu" }, "Device")]
    [InlineData(new[] { "--prompt", "x", "--top-k", "many" }, "--top-k")]
    [InlineData(new[] { "--prompt", "x", "--bogus", "1" }, "--bogus")]
    public void BadArgumentsExitWithTwoAndNameTheParameter(string[] rest, string parameter)
    {
        var (exit, output, error) = Nnl(["generate", _dir.Path, .. rest]);
        Assert.Equal(2, exit);
        Assert.Contains("[InvalidArgument]", error);
        Assert.Contains(parameter, error);
        Assert.Equal("", output);
    }

    [Fact]
    public void GenerateNeedsExactlyOneModelDirectory()
    {
        Assert.Equal(2, Nnl("generate", "--prompt", "x").Exit);
        var (exit, _, error) = Nnl("generate", _dir.Path, _dir.Path, "--prompt", "x");
        Assert.Equal(2, exit);
        Assert.Contains("one model directory", error);
    }

    [Fact]
    public void AMissingDirectoryIsAnErrorNotACrash()
    {
        var (exit, _, error) = Nnl("generate", Path.Combine(_dir.Path, "nothing-here"), "--prompt", "x");
        Assert.NotEqual(0, exit);
        Assert.StartsWith("nnl: error [", error);
    }

    [Fact]
    public void TokenizePrintsOneIdPerLine()
    {
        var text = TestTokenizers.RandomUnicode(new Random(77), 40);
        var expected = Tokens(text, addSpecial: false);
        var (exit, output, error) = Nnl("tokenize", _dir.Path, "--text", text);
        Assert.True(exit == 0, error);
        Assert.Equal(expected.Select(t => t.Id.ToString()), output.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.True(expected.Count >= 40); // byte-level: at least one token per code point
    }

    [Fact]
    public void TokenizeWithSpecialTokensStartsWithBos()
    {
        var (exit, output, _) = Nnl("tokenize", _dir.Path, "--text", _prompt, "--add-special-tokens");
        Assert.Equal(0, exit);
        var ids = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToList();
        Assert.Equal(TestTokenizers.Llama3Bos, ids[0]);
        Assert.Equal(Tokens(_prompt, addSpecial: false).Select(t => t.Id), ids.Skip(1));
    }

    [Fact]
    public void TokenizeAsJsonWritesWholeTokens()
    {
        var (exit, output, _) = Nnl("tokenize", _dir.Path, "--text", _prompt, "--json");
        Assert.Equal(0, exit);
        var tokens = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(_prompt, string.Concat(tokens.Select(t => t.GetProperty("Text").GetString())));
        Assert.Equal(Enumerable.Range(0, tokens.Count), tokens.Select(t => t.GetProperty("Index").GetInt32()));
    }

    [Fact]
    public void DetokenizeReversesTokenize()
    {
        var text = TestTokenizers.RandomUnicode(new Random(78), 30);
        var ids = Nnl("tokenize", _dir.Path, "--text", text).Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var (exit, output, error) = Nnl("detokenize", _dir.Path, "--id", string.Join(",", ids));
        Assert.True(exit == 0, error);
        Assert.Equal(text + "\n", output);
    }

    [Fact]
    public void DetokenizeCanSkipSpecialTokens()
    {
        var ids = Tokens(_prompt, addSpecial: false).Select(t => t.Id.ToString()).ToList();
        var with = Nnl("detokenize", _dir.Path, "--id", string.Join(",", [TestTokenizers.Llama3Bos.ToString(), .. ids])).Out;
        var without = Nnl("detokenize", _dir.Path, "--id", TestTokenizers.Llama3Bos.ToString(), "--id", string.Join(",", ids), "--skip-special-tokens").Out;
        Assert.Equal("<|begin_of_text|>" + _prompt + "\n", with);
        Assert.Equal(_prompt + "\n", without);
    }

    [Fact]
    public void DetokenizeNeedsIds()
    {
        var (exit, _, error) = Nnl("detokenize", _dir.Path);
        Assert.Equal(2, exit);
        Assert.Contains("--id", error);
    }

    private List<NnlToken> Tokens(string text, bool addSpecial)
    {
        var sink = new CollectingSink(TestContext.Current.CancellationToken);
        new ConvertToTokenCommand { Path = _dir.Path, Text = [text], AddSpecialTokens = addSpecial }.Execute(sink);
        return sink.RecordsOf<NnlToken>().ToList();
    }
}
