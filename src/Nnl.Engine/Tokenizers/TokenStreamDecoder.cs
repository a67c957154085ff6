using System.Text;

namespace Nnl.Engine.Tokenizers;

/// <summary>
/// Decodes ids one at a time as a model generates them. A token can end in the middle of a UTF-8
/// sequence (an emoji is often two or three byte tokens), so the bytes of an unfinished sequence are
/// held back until the token that completes it arrives; what <see cref="Push"/> returns is always
/// whole characters, and all the returned strings together equal <see cref="ITokenizer.Decode"/> of
/// the same ids. Not thread-safe: one decoder per stream.
/// </summary>
public sealed class TokenStreamDecoder
{
    private readonly ITokenizer _tokenizer;
    private readonly bool _skipSpecialTokens;
    private readonly Decoder _utf8 = new UTF8Encoding(false, false).GetDecoder();
    private int _spacesToStrip;
    private bool _anyByteSeen;
    private char[] _chars = new char[64];

    internal TokenStreamDecoder(ITokenizer tokenizer, bool skipSpecialTokens, int leadingSpacesToStrip)
    {
        _tokenizer = tokenizer;
        _skipSpecialTokens = skipSpecialTokens;
        _spacesToStrip = leadingSpacesToStrip;
    }

    /// <summary>Adds one token; returns the text it completes (possibly empty).</summary>
    public string Push(int id)
    {
        if (_skipSpecialTokens && _tokenizer.IsSpecial(id)) return "";
        var bytes = _tokenizer.TokenBytes(id);
        while (!_anyByteSeen && _spacesToStrip > 0 && bytes.Length > 0 && bytes[0] == (byte)' ')
        {
            bytes = bytes[1..];
            _spacesToStrip--;
        }
        if (bytes.Length == 0) return "";
        _anyByteSeen = true;
        return Convert(bytes, flush: false);
    }

    /// <summary>Ends the stream: bytes of an unfinished sequence come out as U+FFFD.</summary>
    public string Flush() => Convert([], flush: true);

    private string Convert(ReadOnlySpan<byte> bytes, bool flush)
    {
        int needed = _utf8.GetCharCount(bytes, flush) ;
        if (needed > _chars.Length) _chars = new char[Math.Max(needed, _chars.Length * 2)];
        int n = _utf8.GetChars(bytes, _chars, flush);
        return n == 0 ? "" : new string(_chars, 0, n);
    }
}
