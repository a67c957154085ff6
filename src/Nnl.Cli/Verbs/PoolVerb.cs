using Nnl.Engine;
using Nnl.Engine.Commands;

namespace Nnl.Cli.Verbs;

/// <summary>`nnl pool`: the GPU memory pool's statistics, blocks, timeline; clearing; trace replays.</summary>
public sealed class PoolVerb : ICliVerb
{
    public string Name => "pool";
    public string Summary => "GPU memory pool: statistics, blocks, timeline (SVG), clear, reset peaks, trace replays";
    public IReadOnlyList<string> Options =>
    [
        "--device N            only these device ordinals (repeatable, comma-separated)",
        "--detailed            one row per block (owner, state, address)",
        "--timeline            the recorded events (time, operation, offset, size, owner)",
        "--pinned-host         the pinned host pool too",
        "--clear               return cached memory to the driver (prints the statistics after)",
        "--reset               reset peaks (prints the statistics after)",
        "--export FILE.svg     draw the timeline (address against time, coloured by owner)",
        "--by-event            with --export/--svg: event numbers across instead of milliseconds",
        "--make-trace KIND     write a trace: llama-offload or random (with --out FILE, --seed N, --tokens N)",
        "--replay FILE         replay a trace on the GPU (with --backing vmm|cumemalloc|direct, --budget 8GB, --verify, --svg FILE)",
    ];

    public INnlCommand CreateCommand(CliArgs args)
    {
        int[]? devices = args.IntList("device") is { Count: > 0 } l ? l.ToArray() : null;
        bool byEvent = args.Flag("by-event");
        if (args.String("make-trace") is { } kind)
            return new WriteMemoryTraceCommand
            {
                Kind = kind,
                Path = args.String("out") ?? throw new NnlArgumentException("--out", "--make-trace needs --out FILE"),
                Seed = args.Int("seed") ?? 1,
                DecodeTokens = args.Int("tokens") ?? 32,
            };
        if (args.String("replay") is { } trace)
            return new ReplayMemoryTraceCommand
            {
                TracePath = trace,
                Backing = args.String("backing") ?? "VirtualMemory",
                Device = devices is { Length: > 0 } ? devices[0] : 0,
                BudgetBytes = args.Bytes("budget") ?? 8L << 30,
                Verify = args.Flag("verify"),
                SvgPath = args.String("svg"),
                ByEventNumber = byEvent,
            };
        if (args.String("export") is { } svg)
            return new ExportMemoryTimelineCommand { Device = devices is { Length: > 0 } ? devices[0] : 0, Path = svg, ByEventNumber = byEvent };
        bool host = args.Flag("pinned-host");
        if (args.Flag("clear")) return new ClearMemoryPoolCommand { Device = devices, PinnedHost = host, PassThru = true };
        if (args.Flag("reset")) return new ResetMemoryPoolStatisticsCommand { Device = devices, PinnedHost = host, PassThru = true };
        return new GetMemoryPoolCommand { Device = devices, Detailed = args.Flag("detailed"), Timeline = args.Flag("timeline"), PinnedHost = host };
    }
}
