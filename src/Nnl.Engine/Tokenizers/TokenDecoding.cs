using System.Text;

namespace Nnl.Engine.Tokenizers;

/// <summary>
/// How a token becomes bytes of text (tokenizer.json "decoder"), reduced to what GPT-2, Llama 2 and
/// Llama 3 use: byte-level pieces map back through <see cref="ByteLevelAlphabet"/>; SentencePiece
/// pieces get "▁" → " " and "&lt;0xNN&gt;" → the byte NN; and a number of leading spaces is stripped
/// from the start of a sequence (Strip / Metaspace's prepended "▁").
/// </summary>
internal sealed class TokenDecoding
{
    public bool ByteLevel { get; init; }
    public IReadOnlyList<(string From, string To)> Replacements { get; init; } = [];
    public bool ByteFallback { get; init; }
    public int LeadingSpacesToStrip { get; init; }

    public byte[] PieceBytes(string piece)
    {
        if (ByteLevel) return ByteLevelAlphabet.DecodePiece(piece);
        foreach (var (from, to) in Replacements) piece = piece.Replace(from, to, StringComparison.Ordinal);
        if (ByteFallback && TryParseByteToken(piece, out byte b)) return [b];
        return Encoding.UTF8.GetBytes(piece);
    }

    /// <summary>"&lt;0xNN&gt;" with two hex digits, as SentencePiece names its byte tokens.</summary>
    public static bool TryParseByteToken(string piece, out byte value)
    {
        value = 0;
        return piece.Length == 6 && piece.StartsWith("<0x", StringComparison.Ordinal) && piece[5] == '>'
            && byte.TryParse(piece.AsSpan(3, 2), System.Globalization.NumberStyles.AllowHexSpecifier, null, out value);
    }
}
