namespace Nnl.Engine.Tokenizers;

/// <summary>
/// A token matched whole in the input before any normalisation or BPE (tokenizer.json's
/// added_tokens): "&lt;|endoftext|&gt;", "&lt;s&gt;", "&lt;|begin_of_text|&gt;" and friends.
/// <see cref="LeftStrip"/>/<see cref="RightStrip"/> let it swallow the whitespace beside it.
/// </summary>
public sealed record AddedToken(int Id, string Content, bool Special, bool LeftStrip = false, bool RightStrip = false);

/// <summary>Cuts text into runs of plain text and added tokens, longest match first at each position.</summary>
internal sealed class AddedTokenSplitter
{
    private readonly Dictionary<char, AddedToken[]> _byFirstChar;

    public AddedTokenSplitter(IEnumerable<AddedToken> tokens)
    {
        _byFirstChar = tokens
            .Where(t => t.Content.Length > 0)
            .GroupBy(t => t.Content[0])
            .ToDictionary(g => g.Key, g => g.OrderByDescending(t => t.Content.Length).ToArray());
    }

    /// <summary>Segments in order: text runs (Token null) and matched added tokens.</summary>
    public List<(string? Text, AddedToken? Token, int Start)> Split(string text)
    {
        var segments = new List<(string?, AddedToken?, int)>();
        if (_byFirstChar.Count == 0)
        {
            if (text.Length > 0) segments.Add((text, null, 0));
            return segments;
        }

        int runStart = 0;
        for (int i = 0; i < text.Length;)
        {
            var match = MatchAt(text, i);
            if (match is null) { i++; continue; }

            int textEnd = i;
            if (match.LeftStrip) while (textEnd > runStart && char.IsWhiteSpace(text[textEnd - 1])) textEnd--;
            if (textEnd > runStart) segments.Add((text[runStart..textEnd], null, runStart));
            segments.Add((null, match, i));
            i += match.Content.Length;
            if (match.RightStrip) while (i < text.Length && char.IsWhiteSpace(text[i])) i++;
            runStart = i;
        }
        if (runStart < text.Length) segments.Add((text[runStart..], null, runStart));
        return segments;
    }

    private AddedToken? MatchAt(string text, int i)
    {
        if (!_byFirstChar.TryGetValue(text[i], out var candidates)) return null;
        foreach (var token in candidates)
            if (text.AsSpan(i).StartsWith(token.Content, StringComparison.Ordinal)) return token;
        return null;
    }
}
