using System.Text;
using System.Text.RegularExpressions;
using Nnl.Engine.Tokenizers;

namespace Nnl.Engine.Tests.Tokenizers;

/// <summary>
/// The hand-written GPT-2 and Llama 3 scanners. Expected pieces below are worked out from the
/// patterns by hand; the random tests compare the scanners with .NET's own Regex running the same
/// pattern on BMP text, where the two must agree (.NET's \s is Unicode White_Space like the
/// references'; only astral code points differ, which the scanners treat as whole code points).
/// </summary>
public sealed class SplitPatternTests
{
    private static string[] Pieces(SplitPattern pattern, string text)
    {
        var ranges = new List<(int Start, int Length)>();
        pattern.Split(text, ranges);
        return ranges.Select(r => text.Substring(r.Start, r.Length)).ToArray();
    }

    [Theory]
    [InlineData("Hello world", new[] { "Hello", " world" })]
    [InlineData("it's 'sup", new[] { "it", "'s", " '", "sup" })]               // ' ' + punct, then letters
    [InlineData("IT'S", new[] { "IT", "'", "S" })]                             // GPT-2's contractions are case-sensitive
    [InlineData("a  b", new[] { "a", " ", " b" })]                             // \s+(?!\S) leaves one space to the word
    [InlineData("a   \n b", new[] { "a", "   \n", " b" })]
    [InlineData("x  ", new[] { "x", "  " })]                                   // trailing run stays whole
    [InlineData("12345 67", new[] { "12345", " 67" })]                         // ?\p{N}+ is unbounded
    [InlineData("a!!?b", new[] { "a", "!!?", "b" })]
    [InlineData(" \t x", new[] { " \t", " x" })]
    [InlineData("é😀😀é", new[] { "é", "😀😀", "é" })]                            // emoji: one run of "other"
    [InlineData("𝐀𝐁 x", new[] { "𝐀𝐁", " x" })]                                 // astral letters are \p{L}
    public void Gpt2_SplitsAsThePatternSays(string text, string[] expected) =>
        Assert.Equal(expected, Pieces(Gpt2Pattern.Instance, text));

    [Theory]
    [InlineData("Hello world 12345 it's", new[] { "Hello", " world", " ", "123", "45", " it", "'s" })]
    [InlineData("IT'S I'LL", new[] { "IT", "'S", " I", "'LL" })]              // (?i:...) contractions
    [InlineData("(hello)", new[] { "(hello", ")" })]                         // one non-letter joins the word
    [InlineData("\thello", new[] { "\thello" })]
    [InlineData("a\n\nb", new[] { "a", "\n\n", "b" })]
    [InlineData("a  \n  b", new[] { "a", "  \n", " ", " b" })]                // \s*[\r\n]+ stops after the last line break
    [InlineData("x;\r\n\r\ny", new[] { "x", ";\r\n\r\n", "y" })]              // punctuation takes the line breaks after it
    [InlineData("1234567", new[] { "123", "456", "7" })]
    [InlineData("x ...  y", new[] { "x", " ...", " ", " y" })]
    [InlineData("日本語テキスト", new[] { "日本語テキスト" })]
    public void Llama3_SplitsAsThePatternSays(string text, string[] expected) =>
        Assert.Equal(expected, Pieces(new Llama3Pattern(3), text));

    [Fact]
    public void Qwen2_SplitsDigitsOneByOne() =>
        Assert.Equal(["x", "1", "2", "3"], Pieces(SplitPattern.FromRegex(SplitPattern.Llama3Source(""))!, "x123"));

    [Fact]
    public void KnownPatterns_GetScanners_OthersARegex()
    {
        Assert.IsType<Gpt2Pattern>(SplitPattern.FromRegex(SplitPattern.Gpt2Source));
        Assert.IsType<Llama3Pattern>(SplitPattern.FromRegex(SplitPattern.Llama3Source("{1,3}")));
        Assert.IsType<RegexPattern>(SplitPattern.FromRegex(@"\d+|\D+"));
        Assert.Null(SplitPattern.FromRegex("(unclosed"));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Scanners_AgreeWithDotNetRegex_OnRandomBmpText(int seed)
    {
        var random = new Random(seed);
        var gpt2 = new RegexPattern(new Regex(SplitPattern.Gpt2Source));
        var llama3 = new RegexPattern(new Regex(SplitPattern.Llama3Source("{1,3}")));
        var qwen2 = new RegexPattern(new Regex(SplitPattern.Llama3Source("")));
        for (int n = 0; n < 500; n++)
        {
            var text = RandomBmpText(random, random.Next(0, 60));
            Assert.Equal(Pieces(gpt2, text), Pieces(Gpt2Pattern.Instance, text));
            Assert.Equal(Pieces(llama3, text), Pieces(new Llama3Pattern(3), text));
            Assert.Equal(Pieces(qwen2, text), Pieces(new Llama3Pattern(1), text));
        }
    }

    /// <summary>Random text from classes the patterns tell apart, weighted towards the tricky ones
    /// (apostrophes, runs of assorted whitespace, line breaks, digits), plus any BMP character.</summary>
    internal static string RandomBmpText(Random random, int length)
    {
        const string tricky = "aZé中ж5٣½ \t\n\r\u00a0\u2028\u3000\u0085'sStTrRvVmMlLdD!?.,-_()ⅫË\u0301";
        var sb = new StringBuilder();
        for (int i = 0; i < length; i++)
        {
            if (random.Next(4) > 0) { sb.Append(tricky[random.Next(tricky.Length)]); continue; }
            char c;
            do c = (char)random.Next(0x20, 0xFFFF); while (char.IsSurrogate(c));
            sb.Append(c);
        }
        return sb.ToString();
    }
}
