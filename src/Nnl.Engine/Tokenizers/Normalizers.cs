using System.Text;
using System.Text.RegularExpressions;

namespace Nnl.Engine.Tokenizers;

/// <summary>A text rewrite applied to each run of plain text before pre-tokenisation (tokenizer.json "normalizer").</summary>
internal abstract class Normalizer
{
    public abstract string Normalize(string text);
}

/// <summary>Prepends a string to non-empty text: Llama 2's "▁" that marks the first word as a word start.</summary>
internal sealed class PrependNormalizer(string prefix) : Normalizer
{
    public override string Normalize(string text) => text.Length == 0 ? text : prefix + text;
}

/// <summary>Replaces a literal string or a regex match: Llama 2's " " → "▁".</summary>
internal sealed class ReplaceNormalizer : Normalizer
{
    private readonly string? _literal;
    private readonly Regex? _regex;
    private readonly string _content;

    public ReplaceNormalizer(string? literal, Regex? regex, string content)
    {
        _literal = literal;
        _regex = regex;
        _content = content;
    }

    public override string Normalize(string text) =>
        _regex is not null ? _regex.Replace(text, _content.Replace("$", "$$"))
        : string.IsNullOrEmpty(_literal) ? text
        : text.Replace(_literal, _content, StringComparison.Ordinal);
}

/// <summary>Unicode normalisation (NFC, NFKC, ...). Note: a process in .NET's invariant globalisation
/// mode cannot normalise and leaves text as it is.</summary>
internal sealed class UnicodeNormalizer(NormalizationForm form) : Normalizer
{
    public override string Normalize(string text) => text.IsNormalized(form) ? text : text.Normalize(form);
}

internal sealed class LowercaseNormalizer : Normalizer
{
    public override string Normalize(string text) => text.ToLowerInvariant();
}

internal sealed class SequenceNormalizer(IReadOnlyList<Normalizer> steps) : Normalizer
{
    public override string Normalize(string text)
    {
        foreach (var step in steps) text = step.Normalize(text);
        return text;
    }
}
