namespace Nnl.Engine.Commands;

using Nnl.Engine.Tokenizers;

/// <summary>ConvertFrom-NnlToken: the text of a sequence of token ids, written as one string.</summary>
public sealed class ConvertFromTokenCommand : INnlCommand
{
    /// <summary>A model directory, or a tokenizer.json / vocab.json file. Ignored when <see cref="Tokenizer"/> is set.</summary>
    public string? Path { get; set; }

    /// <summary>An already loaded tokenizer (a model's), instead of <see cref="Path"/>.</summary>
    public ITokenizer? Tokenizer { get; set; }

    public int[] Ids { get; set; } = [];

    /// <summary>Leave out BOS, EOS and other special tokens.</summary>
    public bool SkipSpecialTokens { get; set; }

    public void Execute(ICommandSink sink)
    {
        var tokenizer = TokenizerSource.Resolve(Tokenizer, Path);
        sink.WriteRecord(tokenizer.Decode(Ids, SkipSpecialTokens));
    }
}
