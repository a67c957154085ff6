using Nnl.Engine.Commands;

namespace Nnl.Cli.Verbs;

public sealed class LogitsVerb : ICliVerb
{
    public string Name => "logits";
    public string Summary => "write the logits of every position of a token sequence (float32, [positions, vocab]) for parity checks";
    public IReadOnlyList<string> Options =>
    [
        "DIR                  the model directory",
        "--ids LIST           token ids, e.g. 1,2,3",
        "--out FILE           where to write the logits",
        "--device D           Cpu (default) or a GPU; --max-gpu-memory SIZE",
    ];

    public INnlCommand CreateCommand(CliArgs args) => new ComputeLogitsCommand
    {
        Path = args.Positional.Count > 0 ? args.Positional[0] : throw new Nnl.Engine.NnlArgumentException("DIR", "give the model directory"),
        TokenIds = args.IntList("ids").ToArray(),
        OutputPath = args.String("out") ?? throw new Nnl.Engine.NnlArgumentException("--out", "give the file to write"),
        Device = args.String("device") ?? "Cpu",
        MaxGpuMemory = args.Bytes("max-gpu-memory"),
    };
}
