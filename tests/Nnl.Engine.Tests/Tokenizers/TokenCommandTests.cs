using Nnl.Engine.Commands;
using Nnl.Engine.Tokenizers;

namespace Nnl.Engine.Tests.Tokenizers;

public sealed class TokenCommandTests
{
    private static string Gpt2Dir => Gpt2ParityTests.Gpt2Directory;

    [Fact]
    public void ConvertTo_WritesOneRecordPerToken_WithReadableText()
    {
        var sink = new CollectingSink();
        new ConvertToTokenCommand { Path = Gpt2Dir, Text = ["Hello world", "😀"] }.Execute(sink);
        var tokens = sink.RecordsOf<NnlToken>().ToList();
        Assert.Equal(4, tokens.Count);

        Assert.Equal((0, 0, 15496, "Hello", "Hello", false), (tokens[0].InputIndex, tokens[0].Index, tokens[0].Id, tokens[0].Text, tokens[0].Piece, tokens[0].Special));
        Assert.Equal((0, 1, 995, " world", "Ġworld"), (tokens[1].InputIndex, tokens[1].Index, tokens[1].Id, tokens[1].Text, tokens[1].Piece));
        Assert.Equal(" world"u8.ToArray(), tokens[1].Bytes);
        // The emoji's two tokens each hold part of it: the text says so, the bytes are exact.
        Assert.Equal((1, 0), (tokens[2].InputIndex, tokens[2].Index));
        Assert.Equal("\uFFFD", tokens[2].Text);
        Assert.Equal("😀"u8.ToArray(), tokens[2].Bytes.Concat(tokens[3].Bytes).ToArray());
    }

    [Fact]
    public void ConvertTo_AddsAndMarksSpecialTokens()
    {
        var llama2 = TokenizerLoader.FromTokenizerJson(
            TestTokenizers.Llama2Json(["▁", "h", "i", "▁h", "▁hi"], [("▁", "h"), ("▁h", "i")]));
        var with = new CollectingSink();
        new ConvertToTokenCommand { Tokenizer = llama2, Text = ["hi"] }.Execute(with);
        var tokens = with.RecordsOf<NnlToken>().ToList();
        Assert.True(llama2.TryGetId("▁hi", out int hi));
        Assert.Equal([1, hi], tokens.Select(t => t.Id));
        Assert.True(tokens[0].Special);
        Assert.Equal(("<s>", " hi", "▁hi"), (tokens[0].Text, tokens[1].Text, tokens[1].Piece));

        var without = new CollectingSink();
        new ConvertToTokenCommand { Tokenizer = llama2, Text = ["hi"], AddSpecialTokens = false }.Execute(without);
        Assert.Single(without.RecordsOf<NnlToken>());
    }

    [Fact]
    public void ConvertFrom_WritesTheText()
    {
        var sink = new CollectingSink();
        new ConvertFromTokenCommand { Path = Gpt2Dir, Ids = [15496, 995, 50256] }.Execute(sink);
        Assert.Equal("Hello world<|endoftext|>", Assert.Single(sink.Records));

        var skipping = new CollectingSink();
        new ConvertFromTokenCommand { Path = Gpt2Dir, Ids = [15496, 995, 50256], SkipSpecialTokens = true }.Execute(skipping);
        Assert.Equal("Hello world", Assert.Single(skipping.Records));
    }

    [Fact]
    public void RoundTrip_ThroughBothCommands()
    {
        var tokenizer = Gpt2ParityTests.Gpt2;
        var text = "Ünïcödé, 日本語 and 👍🏽\n\tcode(x) { return 42; }";
        var to = new CollectingSink();
        new ConvertToTokenCommand { Tokenizer = tokenizer, Text = [text] }.Execute(to);
        var from = new CollectingSink();
        new ConvertFromTokenCommand { Tokenizer = tokenizer, Ids = to.RecordsOf<NnlToken>().Select(t => t.Id).ToArray() }.Execute(from);
        Assert.Equal(text, Assert.Single(from.Records));
    }

    [Fact]
    public void BadParameters_AreNamed()
    {
        Assert.Equal("Path", Assert.Throws<NnlArgumentException>(() => new ConvertToTokenCommand { Text = ["x"] }.Execute(new CollectingSink())).ParameterName);
        Assert.Equal("Ids", Assert.Throws<NnlArgumentException>(() =>
            new ConvertFromTokenCommand { Path = Gpt2Dir, Ids = [1, 50257] }.Execute(new CollectingSink())).ParameterName);
    }

    [Fact]
    public void ConvertTo_StopsWhenCancelled()
    {
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() =>
            new ConvertToTokenCommand { Tokenizer = Gpt2ParityTests.Gpt2, Text = ["a", "b"] }.Execute(new CollectingSink(cts.Token)));
    }
}
