using Nnl.Engine;
using Nnl.Engine.Commands;

namespace Nnl.Cli.Verbs;

public sealed class TokenizeVerb : ICliVerb
{
    public string Name => "tokenize";
    public string Summary => "the token ids of a text under a model directory's tokenizer, one per line";
    public IReadOnlyList<string> Flags => ["add-special-tokens"];
    public IReadOnlyList<string> Options =>
    [
        "MODEL-DIR             a model directory, or a tokenizer.json / vocab.json file",
        "--text TEXT           the text to tokenize (required)",
        "--add-special-tokens  add what the model puts around a sequence (Llama's BOS)",
        "(--json prints each token: id, text, vocabulary piece, bytes, special)",
    ];

    public INnlCommand CreateCommand(CliArgs args) => new ConvertToTokenCommand
    {
        Path = GenerateVerb.ModelDirectory(args),
        Text = [args.String("text") ?? throw new NnlArgumentException("--text", "give the text to tokenize: nnl tokenize DIR --text \"...\"")],
        AddSpecialTokens = args.Flag("add-special-tokens"),
    };
}
