using Nnl.Engine.Tokenizers;

namespace Nnl.Engine.Generation;

/// <summary>A model directory's tokenizer (Nnl.Engine.Tokenizers) as generation uses it.</summary>
public sealed class ModelTokenizer : IGenerationTokenizer
{
    public ModelTokenizer(ITokenizer tokenizer) { Tokenizer = tokenizer; }

    public ITokenizer Tokenizer { get; }
    public string Name => Tokenizer.Kind;

    public IReadOnlyList<int> Encode(string text) => Tokenizer.Encode(text, addSpecialTokens: true);

    // Generated text continues the prompt, so a leading space is kept; special tokens (EOS, chat markers) are not text.
    public IGenerationDecoder CreateDecoder() => new StreamDecoder(Tokenizer.CreateStreamDecoder(skipSpecialTokens: true, continuesText: true));

    /// <summary>The tokenizer of <paramref name="directory"/>, or null when it ships none (tokenizer.json or vocab.json + merges.txt).</summary>
    public static ModelTokenizer? TryLoad(string directory)
    {
        var hasTokenizer = File.Exists(Path.Combine(directory, TokenizerLoader.TokenizerJson))
            || File.Exists(Path.Combine(directory, TokenizerLoader.VocabJson));
        return hasTokenizer ? new ModelTokenizer(TokenizerLoader.Load(directory)) : null;
    }

    private sealed class StreamDecoder : IGenerationDecoder
    {
        private readonly TokenStreamDecoder _decoder;
        public StreamDecoder(TokenStreamDecoder decoder) { _decoder = decoder; }
        public string Push(int id) => _decoder.Push(id);
        public string Flush() => _decoder.Flush();
    }
}
