using Nnl.Engine.Commands;

namespace Nnl.Cli.Verbs;

public sealed class DeviceVerb : ICliVerb
{
    public string Name => "device";
    public string Summary => "list GPUs: name, memory, compute capability, PCIe link, driver";
    public IReadOnlyList<string> Options => ["--index N    only these device ordinals (repeatable, comma-separated)"];

    public INnlCommand CreateCommand(CliArgs args) =>
        new GetDeviceCommand { Index = args.IntList("index") is { Count: > 0 } l ? l.ToArray() : null };
}
