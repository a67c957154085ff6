namespace Nnl.Engine.Tokenizers;

/// <summary>Text to token ids and back, for one model's vocabulary.</summary>
public interface ITokenizer
{
    /// <summary>"ByteLevelBpe" (GPT-2, Llama 3) or "SentencePieceBpe" (Llama 2).</summary>
    string Kind { get; }

    /// <summary>Token ids of <paramref name="text"/>. Added tokens written in the text ("&lt;|endoftext|&gt;")
    /// are always matched whole; <paramref name="addSpecialTokens"/> adds what the model puts around
    /// a sequence (Llama's BOS).</summary>
    IReadOnlyList<int> Encode(string text, bool addSpecialTokens = true);

    /// <summary>The text of <paramref name="ids"/>; byte sequences that are not valid UTF-8 become U+FFFD.</summary>
    string Decode(IEnumerable<int> ids, bool skipSpecialTokens = false);

    /// <summary>A decoder that takes ids one at a time and returns only complete UTF-8 text.
    /// <paramref name="continuesText"/>: the ids follow earlier text (a prompt), so a leading space the
    /// model's decoder would strip at the start of a sequence (Llama 2) is kept.</summary>
    TokenStreamDecoder CreateStreamDecoder(bool skipSpecialTokens = false, bool continuesText = false);

    /// <summary>One more than the highest id of the vocabulary and the added tokens.</summary>
    int VocabSize { get; }

    int? BosTokenId { get; }
    int? EosTokenId { get; }
    string? BosToken { get; }
    string? EosToken { get; }

    /// <summary>Added tokens marked special (BOS, EOS, chat markers).</summary>
    IReadOnlyList<AddedToken> AddedTokens { get; }

    bool IsSpecial(int id);

    /// <summary>The token as the vocabulary writes it ("Ġworld", "▁world", "&lt;0xE4&gt;").</summary>
    string TokenText(int id);

    /// <summary>The bytes the token contributes to decoded text (before any start-of-text stripping).</summary>
    ReadOnlySpan<byte> TokenBytes(int id);
}
