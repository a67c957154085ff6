namespace Nnl.Engine.Tokenizers;

/// <summary>
/// Cuts normalised text into the pieces BPE encodes independently (tokenizer.json "pre_tokenizer").
/// Each step rewrites the list of pieces; <c>startsText</c> says whether the run of text begins the
/// input (Metaspace's prepend_scheme "first" only marks that one).
/// </summary>
internal abstract class PreTokenizer
{
    public abstract void Apply(List<string> pieces, bool startsText);

    protected static void SplitEach(List<string> pieces, SplitPattern pattern)
    {
        var output = new List<string>(pieces.Count * 4);
        var ranges = new List<(int Start, int Length)>();
        foreach (var piece in pieces)
        {
            ranges.Clear();
            pattern.Split(piece, ranges);
            foreach (var (start, length) in ranges) output.Add(piece.Substring(start, length));
        }
        pieces.Clear();
        pieces.AddRange(output);
    }
}

/// <summary>Split with a pattern, each match and each gap kept as a piece ("Isolated").</summary>
internal sealed class SplitPreTokenizer(SplitPattern pattern) : PreTokenizer
{
    public SplitPattern Pattern { get; } = pattern;

    public override void Apply(List<string> pieces, bool startsText) => SplitEach(pieces, Pattern);
}

/// <summary>
/// GPT-2's ByteLevel step: optionally a leading space, the GPT-2 split pattern (use_regex), then each
/// piece's UTF-8 bytes written in <see cref="ByteLevelAlphabet"/> characters.
/// </summary>
internal sealed class ByteLevelPreTokenizer(bool addPrefixSpace, bool useRegex) : PreTokenizer
{
    public override void Apply(List<string> pieces, bool startsText)
    {
        if (addPrefixSpace)
            for (int i = 0; i < pieces.Count; i++)
                if (!pieces[i].StartsWith(' ')) pieces[i] = " " + pieces[i];
        if (useRegex) SplitEach(pieces, Gpt2Pattern.Instance);
        for (int i = 0; i < pieces.Count; i++) pieces[i] = ByteLevelAlphabet.EncodeUtf8(pieces[i]);
    }
}

/// <summary>SentencePiece's Metaspace: spaces become "▁", a "▁" is prepended, and optionally each word
/// (starting at a "▁") becomes its own piece.</summary>
internal sealed class MetaspacePreTokenizer(char replacement, MetaspacePrepend prepend, bool split) : PreTokenizer
{
    public override void Apply(List<string> pieces, bool startsText)
    {
        var output = new List<string>();
        for (int p = 0; p < pieces.Count; p++)
        {
            var text = pieces[p].Replace(' ', replacement);
            bool add = prepend == MetaspacePrepend.Always || (prepend == MetaspacePrepend.First && startsText && p == 0);
            if (add && !text.StartsWith(replacement)) text = replacement + text;
            if (!split) { output.Add(text); continue; }
            int start = 0;
            for (int i = 1; i < text.Length; i++)
                if (text[i] == replacement) { output.Add(text[start..i]); start = i; }
            if (start < text.Length) output.Add(text[start..]);
        }
        pieces.Clear();
        pieces.AddRange(output);
    }
}

internal enum MetaspacePrepend { Always, First, Never }

internal sealed class SequencePreTokenizer(IReadOnlyList<PreTokenizer> steps) : PreTokenizer
{
    public override void Apply(List<string> pieces, bool startsText)
    {
        foreach (var step in steps) step.Apply(pieces, startsText);
    }
}
