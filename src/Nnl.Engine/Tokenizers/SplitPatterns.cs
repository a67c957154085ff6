using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Nnl.Engine.Tokenizers;

/// <summary>
/// A pre-tokenisation pattern: cuts text into the pieces that BPE then works on one by one.
/// The patterns of GPT-2 and of Llama 3 (and Qwen2) are hand-written scanners: .NET's Regex sees
/// UTF-16 code units, so it would not count an astral letter (𝐀, 𠀀) as \p{L} and would split
/// emoji surrogates apart from their neighbours; the scanners work on code points, like the
/// reference implementations, and are much faster.
/// </summary>
internal abstract class SplitPattern
{
    /// <summary>Adds (start, length) of each piece, covering the whole text in order.</summary>
    public abstract void Split(string text, List<(int Start, int Length)> pieces);

    public const string Gpt2Source =
        @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    public static string Llama3Source(string digits) =>
        @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}" + digits +
        @"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    /// <summary>The scanner for a known pattern, else a .NET Regex; null when .NET cannot parse it.</summary>
    public static SplitPattern? FromRegex(string pattern)
    {
        if (pattern == Gpt2Source) return Gpt2Pattern.Instance;
        if (pattern == Llama3Source("{1,3}")) return new Llama3Pattern(3);
        if (pattern == Llama3Source("")) return new Llama3Pattern(1);
        try { return new RegexPattern(new Regex(pattern, RegexOptions.CultureInvariant)); }
        catch (ArgumentException) { return null; }
    }
}

internal enum CodePointClass : byte { Letter, Number, Space, Other }

/// <summary>Unicode classes as the reference regex engines see them (\p{L}, \p{N}, \s = White_Space).</summary>
internal static class CodePoints
{
    /// <summary>The class of the code point at <paramref name="i"/> and its length in UTF-16 units.
    /// A lone surrogate is one unit of class Other (as in JavaScript's /u mode).</summary>
    public static CodePointClass Classify(string text, int i, out int length)
    {
        char c = text[i];
        if (c < 0x80)
        {
            length = 1;
            if ((uint)(c - 'a') <= 'z' - 'a' || (uint)(c - 'A') <= 'Z' - 'A') return CodePointClass.Letter;
            if ((uint)(c - '0') <= 9) return CodePointClass.Number;
            if (c == ' ' || (c >= '\t' && c <= '\r')) return CodePointClass.Space;
            return CodePointClass.Other;
        }
        if (Rune.DecodeFromUtf16(text.AsSpan(i), out var rune, out length) != System.Buffers.OperationStatus.Done)
        {
            length = 1;
            return CodePointClass.Other;
        }
        if (Rune.IsWhiteSpace(rune)) return CodePointClass.Space;
        switch (Rune.GetUnicodeCategory(rune))
        {
            case UnicodeCategory.UppercaseLetter:
            case UnicodeCategory.LowercaseLetter:
            case UnicodeCategory.TitlecaseLetter:
            case UnicodeCategory.ModifierLetter:
            case UnicodeCategory.OtherLetter:
                return CodePointClass.Letter;
            case UnicodeCategory.DecimalDigitNumber:
            case UnicodeCategory.LetterNumber:
            case UnicodeCategory.OtherNumber:
                return CodePointClass.Number;
            default:
                return CodePointClass.Other;
        }
    }

    public static CodePointClass Classify(string text, int i) => Classify(text, i, out _);

    /// <summary>End of the run of code points of class <paramref name="cls"/> starting at <paramref name="i"/>,
    /// at most <paramref name="max"/> code points long.</summary>
    public static int RunEnd(string text, int i, CodePointClass cls, int max = int.MaxValue)
    {
        int count = 0;
        while (i < text.Length && count < max && Classify(text, i, out int len) == cls) { i += len; count++; }
        return i;
    }

    /// <summary>Length of the contraction ('s 't 're 've 'm 'll 'd) at <paramref name="i"/>, or 0.</summary>
    public static int Contraction(string text, int i, bool ignoreCase)
    {
        if (text[i] != '\'' || i + 1 >= text.Length) return 0;
        var cmp = ignoreCase ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;
        var rest = text.AsSpan(i + 1);
        foreach (var suffix in new[] { "s", "t", "re", "ve", "m", "ll", "d" })
            if (rest.StartsWith(suffix, cmp)) return 1 + suffix.Length;
        return 0;
    }

    /// <summary>
    /// The whitespace alternatives shared by both patterns, for a run that starts at <paramref name="i"/>:
    /// \s+(?!\S) leaves the run's last space to the word that follows; \s+ takes a lone one.
    /// </summary>
    public static int WhitespaceEnd(string text, int i)
    {
        int runEnd = RunEnd(text, i, CodePointClass.Space);
        if (runEnd == i) return i + (char.IsSurrogatePair(text, i) ? 2 : 1); // not reached for these patterns
        if (runEnd == text.Length) return runEnd;
        int lastStart = runEnd - 1; // every White_Space code point is in the BMP
        return lastStart > i ? lastStart : runEnd;
    }
}

/// <summary>GPT-2: 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+</summary>
internal sealed class Gpt2Pattern : SplitPattern
{
    public static readonly Gpt2Pattern Instance = new();

    public override void Split(string text, List<(int Start, int Length)> pieces)
    {
        int i = 0;
        while (i < text.Length)
        {
            int end = MatchAt(text, i);
            pieces.Add((i, end - i));
            i = end;
        }
    }

    private static int MatchAt(string text, int i)
    {
        int contraction = CodePoints.Contraction(text, i, ignoreCase: false);
        if (contraction > 0) return i + contraction;
        int j = text[i] == ' ' ? i + 1 : i;
        if (j < text.Length)
        {
            var cls = CodePoints.Classify(text, j);
            if (cls != CodePointClass.Space) return CodePoints.RunEnd(text, j, cls);
        }
        return CodePoints.WhitespaceEnd(text, i);
    }
}

/// <summary>
/// Llama 3 (maxDigits 3) and Qwen2 (maxDigits 1):
/// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
/// </summary>
internal sealed class Llama3Pattern : SplitPattern
{
    private readonly int _maxDigits;

    public Llama3Pattern(int maxDigits) { _maxDigits = maxDigits; }

    public override void Split(string text, List<(int Start, int Length)> pieces)
    {
        int i = 0;
        while (i < text.Length)
        {
            int end = MatchAt(text, i);
            pieces.Add((i, end - i));
            i = end;
        }
    }

    private int MatchAt(string text, int i)
    {
        int contraction = CodePoints.Contraction(text, i, ignoreCase: true);
        if (contraction > 0) return i + contraction;

        var cls = CodePoints.Classify(text, i, out int len);
        // [^\r\n\p{L}\p{N}]?\p{L}+ : one leading space, tab or punctuation mark joins the word.
        if (cls == CodePointClass.Letter) return CodePoints.RunEnd(text, i, CodePointClass.Letter);
        if (cls != CodePointClass.Number && text[i] != '\r' && text[i] != '\n'
            && i + len < text.Length && CodePoints.Classify(text, i + len) == CodePointClass.Letter)
            return CodePoints.RunEnd(text, i + len, CodePointClass.Letter);
        // \p{N}{1,3}
        if (cls == CodePointClass.Number) return CodePoints.RunEnd(text, i, CodePointClass.Number, _maxDigits);
        // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
        int j = text[i] == ' ' ? i + 1 : i;
        if (j < text.Length && CodePoints.Classify(text, j) == CodePointClass.Other)
        {
            int end = CodePoints.RunEnd(text, j, CodePointClass.Other);
            while (end < text.Length && (text[end] == '\r' || text[end] == '\n')) end++;
            return end;
        }
        // \s*[\r\n]+ : a whitespace run up to and including its last line break.
        int runEnd = CodePoints.RunEnd(text, i, CodePointClass.Space);
        for (int k = runEnd - 1; k >= i; k--)
            if (text[k] == '\r' || text[k] == '\n') return k + 1;
        return CodePoints.WhitespaceEnd(text, i);
    }
}

/// <summary>Any other Split pattern, through .NET's Regex (UTF-16 semantics: see <see cref="SplitPattern"/>).
/// Text between matches becomes pieces of its own, as Hugging Face's "Isolated" behaviour does.</summary>
internal sealed class RegexPattern : SplitPattern
{
    private readonly Regex _regex;

    public RegexPattern(Regex regex) { _regex = regex; }

    public override void Split(string text, List<(int Start, int Length)> pieces)
    {
        int last = 0;
        for (var m = _regex.Match(text); m.Success; m = m.NextMatch())
        {
            if (m.Length == 0) continue;
            if (m.Index > last) pieces.Add((last, m.Index - last));
            pieces.Add((m.Index, m.Length));
            last = m.Index + m.Length;
        }
        if (last < text.Length) pieces.Add((last, text.Length - last));
    }
}

/// <summary>A literal string pattern (Split with {"String": ...}): each occurrence is its own piece.</summary>
internal sealed class LiteralPattern : SplitPattern
{
    private readonly string _literal;

    public LiteralPattern(string literal) { _literal = literal; }

    public override void Split(string text, List<(int Start, int Length)> pieces)
    {
        int last = 0;
        if (_literal.Length > 0)
        {
            for (int at = text.IndexOf(_literal, StringComparison.Ordinal); at >= 0;
                 at = text.IndexOf(_literal, last, StringComparison.Ordinal))
            {
                if (at > last) pieces.Add((last, at - last));
                pieces.Add((at, _literal.Length));
                last = at + _literal.Length;
            }
        }
        if (last < text.Length) pieces.Add((last, text.Length - last));
    }
}
