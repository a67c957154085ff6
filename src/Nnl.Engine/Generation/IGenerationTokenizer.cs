namespace Nnl.Engine.Generation;

/// <summary>
/// What generation needs from a tokenizer: prompt text to ids, and ids back to text one token at a
/// time (whole UTF-8 characters only). Nnl.Engine.Tokenizers' tokenizers are adapted to this.
/// </summary>
public interface IGenerationTokenizer
{
    /// <summary>"ByteLevelBpe", "SentencePieceBpe", ...</summary>
    string Name { get; }

    /// <summary>Ids of a prompt, with the special tokens the model expects around it (Llama's BOS).</summary>
    IReadOnlyList<int> Encode(string text);

    /// <summary>A decoder for text that continues a prompt.</summary>
    IGenerationDecoder CreateDecoder();
}

/// <summary>Turns generated ids into text as they come.</summary>
public interface IGenerationDecoder
{
    /// <summary>The text this token completes (possibly empty while a UTF-8 sequence is unfinished).</summary>
    string Push(int id);

    /// <summary>Whatever is held back, at the end of the stream.</summary>
    string Flush();
}
