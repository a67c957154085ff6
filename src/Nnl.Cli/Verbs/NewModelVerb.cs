using Nnl.Engine.Commands;
using Nnl.Engine.Models.Synthetic;

namespace Nnl.Cli.Verbs;

public sealed class NewModelVerb : ICliVerb
{
    public string Name => "new-model";
    public string Summary => "write a model of a published shape (or any config.json) with random weights";
    public IReadOnlyList<string> Flags => ["force", "in-memory"];
    public IReadOnlyList<string> Options =>
    [
        "--preset NAME      gpt2, gpt2-medium, gpt2-large, gpt2-xl, llama-2-7b, llama-2-13b, llama-2-70b,",
        "                   llama-3-8b, llama-3-70b, mistral-7b, qwen2-7b",
        "--config PATH      a config.json (or its directory) instead of a preset",
        "--path DIR         the directory to write (must be empty unless --force)",
        "--dtype T          fp16 (default), bf16 or fp32",
        "--seed N           random seed (default 0): the same seed writes the same weights",
        "--layers N         keep only the first N transformer blocks",
        "--force            replace the model files of a non-empty directory",
        "--in-memory        generate into memory and load (no files; prints the loaded model)",
        "--device D         where --in-memory loads the model (default Cpu)",
        "--max-shard-size S largest shard file (default 2000000000; 2GB, 512MB also work)",
    ];

    public INnlCommand CreateCommand(CliArgs args) => new NewModelCommand
    {
        Preset = args.String("preset"),
        Config = args.String("config"),
        Path = args.String("path"),
        DType = args.String("dtype") ?? "fp16",
        Seed = args.Int("seed") ?? 0,
        Layers = args.Int("layers"),
        Force = args.Flag("force"),
        InMemory = args.Flag("in-memory"),
        Device = args.String("device") ?? "Cpu",
        MaxShardBytes = args.Bytes("max-shard-size") ?? ModelDirectoryWriter.DefaultMaxShardBytes,
    };
}
