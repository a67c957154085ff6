using System.Text;
using Nnl.Engine.Tokenizers;

namespace Nnl.Engine.Commands;

/// <summary>ConvertTo-NnlToken / `nnl tokenize`: the tokens of each text, one <see cref="NnlToken"/> each.</summary>
public sealed class ConvertToTokenCommand : INnlCommand
{
    /// <summary>A model directory, or a tokenizer.json / vocab.json file. Ignored when <see cref="Tokenizer"/> is set.</summary>
    public string? Path { get; set; }

    /// <summary>An already loaded tokenizer (a model's), instead of <see cref="Path"/>.</summary>
    public ITokenizer? Tokenizer { get; set; }

    public string[] Text { get; set; } = [];

    /// <summary>Add what the model puts around a sequence (Llama's BOS).</summary>
    public bool AddSpecialTokens { get; set; } = true;

    public void Execute(ICommandSink sink)
    {
        var tokenizer = TokenizerSource.Resolve(Tokenizer, Path);
        for (int input = 0; input < Text.Length; input++)
        {
            sink.Cancellation.ThrowIfCancellationRequested();
            var ids = tokenizer.Encode(Text[input] ?? "", AddSpecialTokens);
            for (int i = 0; i < ids.Count; i++)
            {
                var bytes = tokenizer.TokenBytes(ids[i]).ToArray();
                sink.WriteRecord(new NnlToken(input, i, ids[i], Encoding.UTF8.GetString(bytes),
                    tokenizer.TokenText(ids[i]), bytes, tokenizer.IsSpecial(ids[i])));
            }
        }
    }
}

/// <summary>The tokenizer a token command works with: the one given, else loaded from the path.</summary>
internal static class TokenizerSource
{
    public static ITokenizer Resolve(ITokenizer? tokenizer, string? path)
    {
        if (tokenizer is not null) return tokenizer;
        if (string.IsNullOrWhiteSpace(path))
            throw new NnlArgumentException("Path", "give a model directory or a tokenizer file (tokenizer.json, vocab.json).");
        return TokenizerLoader.Load(path);
    }
}
