using Nnl.Engine.Tokenizers;

namespace Nnl.Engine.Tests.Tokenizers;

/// <summary>
/// Where npm's gpt-3-encoder differs from GPT-2 as OpenAI's encoder.py and Hugging Face run it,
/// Nnl follows the latter; these inputs are kept out of the parity corpus.
/// </summary>
public sealed class Gpt2DivergenceTests
{
    private static BpeTokenizer Gpt2 => Gpt2ParityTests.Gpt2;

    [Fact]
    public void EndOfText_IsOneSpecialToken()
    {
        // gpt-3-encoder knows no special tokens and spells "<|endoftext|>" with 7 tokens
        // [27, 91, 437, 1659, 5239, 91, 29]; GPT2Tokenizer (and Nnl) never split it: id 50256.
        Assert.Equal([15496, 50256, 15496], Gpt2.Encode("Hello<|endoftext|>Hello"));
        Assert.True(Gpt2.IsSpecial(50256));
        Assert.Equal("Hello<|endoftext|>Hello", Gpt2.Decode([15496, 50256, 15496]));
        Assert.Equal("HelloHello", Gpt2.Decode([15496, 50256, 15496], skipSpecialTokens: true));
    }

    [Fact]
    public void Whitespace_IsUnicodeWhiteSpace_NotJavaScriptsBackslashS()
    {
        // JavaScript's \s includes U+FEFF and leaves out U+0085 (NEL); Python's regex module and
        // Oniguruma (Hugging Face) use Unicode White_Space, which is the other way round. So after
        // punctuation gpt-3-encoder cuts "!" from U+FEFF and keeps "!" with U+0085; GPT-2 proper, and
        // Nnl, do the opposite. (The ids often come out the same anyway, as GPT-2 has few merges across
        // punctuation: gpt-3-encoder gives [64, 0, 126, 227, 65] for "a!\u0085b" either way.)
        Assert.Equal(["a", "!\uFEFF", "b"], Split("a!\uFEFFb"));
        Assert.Equal(["a", "!", "\u0085", "b"], Split("a!\u0085b"));
        Assert.Equal("a!\u0085b", Gpt2.Decode(Gpt2.Encode("a!\u0085b")));
    }

    private static string[] Split(string text)
    {
        var ranges = new List<(int Start, int Length)>();
        Gpt2Pattern.Instance.Split(text, ranges);
        return ranges.Select(r => text.Substring(r.Start, r.Length)).ToArray();
    }
}
