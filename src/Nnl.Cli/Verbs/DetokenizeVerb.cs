using Nnl.Engine;
using Nnl.Engine.Commands;

namespace Nnl.Cli.Verbs;

public sealed class DetokenizeVerb : ICliVerb
{
    public string Name => "detokenize";
    public string Summary => "the text of token ids under a model directory's tokenizer";
    public IReadOnlyList<string> Flags => ["skip-special-tokens"];
    public IReadOnlyList<string> Options =>
    [
        "MODEL-DIR              a model directory, or a tokenizer.json / vocab.json file",
        "--id 1,2,3             the token ids (repeatable, comma-separated; required)",
        "--skip-special-tokens  leave out BOS, EOS and other special tokens",
    ];

    public INnlCommand CreateCommand(CliArgs args) => new ConvertFromTokenCommand
    {
        Path = GenerateVerb.ModelDirectory(args),
        Ids = args.IntList("id") is { Count: > 0 } ids ? ids.ToArray() : throw new NnlArgumentException("--id", "give the token ids: nnl detokenize DIR --id 15496,995"),
        SkipSpecialTokens = args.Flag("skip-special-tokens"),
    };
}
