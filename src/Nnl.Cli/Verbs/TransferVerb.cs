using Nnl.Engine;
using Nnl.Engine.Commands;
using Nnl.Engine.Cuda;
using Nnl.Engine.Transfer;

namespace Nnl.Cli.Verbs;

public sealed class TransferVerb : ICliVerb
{
    public string Name => "transfer";
    public string Summary => "measure host<->device, device and peer copy bandwidth (shmoo, range, tensor pattern)";
    public IReadOnlyList<string> Options =>
    [
        "--device N          GPU to measure (default 0)",
        "--direction LIST    h2d, d2h, d2d, bidir, p2p (default h2d,d2h)",
        "--memory LIST       pageable, pinned, wc, registered, mapped (default pinned)",
        "--mechanism LIST    ce (copy engine), kernel (SM copy) (default ce)",
        "--size LIST         sizes: 4096, 64MB (=64*2^20 as in PowerShell), 1e6 (default 32000000)",
        "--shmoo             bandwidthTest's 81 sizes, 1 KB to 68 MB (decimal); --extended continues to 1 GB",
        "--range S,E,STEP    sizes from S to E by STEP",
        "--tensor-set NAME   tensor pattern for a named layer: llama-2-7b-block",
        "--tensor-sizes LIST tensor pattern for these tensor sizes",
        "--streams N         split each transfer over N streams (default 1); --chunk-size BYTES",
        "--iterations N      samples per point (default 10); --copies N copies per sample (default 16); --warmup N (default 4)",
        "--peer N            peer GPU for p2p (default the next one)",
    ];

    public INnlCommand CreateCommand(CliArgs args)
    {
        var range = args.BytesList("range");
        return new MeasureTransferCommand
        {
            Device = args.Int("device") ?? 0,
            Direction = Enums(args.List("direction"), "--direction", ParseDirection),
            HostMemory = Enums(args.List("memory"), "--memory", ParseMemory),
            Mechanism = Enums(args.List("mechanism"), "--mechanism", ParseMechanism),
            Size = args.BytesList("size") is { Count: > 0 } s ? s.ToArray() : null,
            Shmoo = args.Flag("shmoo"),
            Extended = args.Flag("extended"),
            Range = range.Count > 0 ? range.ToArray() : null,
            TensorSet = args.String("tensor-set"),
            TensorSizes = args.BytesList("tensor-sizes") is { Count: > 0 } t ? t.ToArray() : null,
            Streams = args.Int("streams") ?? 1,
            ChunkSize = args.Bytes("chunk-size"),
            Iterations = args.Int("iterations") ?? 10,
            CopiesPerSample = args.Int("copies") ?? 16,
            WarmupCopies = args.Int("warmup") ?? 4,
            PeerDevice = args.Int("peer"),
        };
    }

    private static T[]? Enums<T>(IReadOnlyList<string> values, string option, Func<string, T?> parse) where T : struct, Enum =>
        values.Count == 0 ? null : values.Select(v => parse(v.ToLowerInvariant()) ?? (Enum.TryParse<T>(v, true, out var e) ? e
            : throw new NnlArgumentException(option, $"'{v}' is not one of {string.Join(", ", Enum.GetNames<T>())}"))).ToArray();

    private static TransferDirection? ParseDirection(string v) => v switch
    {
        "h2d" or "htod" => TransferDirection.HostToDevice,
        "d2h" or "dtoh" => TransferDirection.DeviceToHost,
        "d2d" or "dtod" => TransferDirection.DeviceToDevice,
        "bidir" or "bidirectional" => TransferDirection.Bidirectional,
        "p2p" or "peer" => TransferDirection.PeerToPeer,
        _ => null,
    };

    private static HostMemoryKind? ParseMemory(string v) => v switch
    {
        "wc" or "write-combined" => HostMemoryKind.WriteCombined,
        _ => null,
    };

    private static TransferMechanism? ParseMechanism(string v) => v switch
    {
        "ce" or "copy-engine" => TransferMechanism.CopyEngine,
        "sm" => TransferMechanism.Kernel,
        _ => null,
    };
}
