using Nnl.Engine.Commands;

namespace Nnl.Cli.Verbs;

public sealed class BenchVerb : ICliVerb
{
    public string Name => "bench";
    public string Summary => "measure prefill and decode speed of a model or preset, sweeping budget, prefetch, batch";
    public IReadOnlyList<string> Flags => ["in-memory", "no-cuda-graphs"];
    public IReadOnlyList<string> Options =>
    [
        "--path DIR             a model directory (or the first positional argument)",
        "--preset NAME          a preset instead, written to a temporary directory",
        "--layers N, --dtype T, --seed N   how the preset is generated (see new-model)",
        "--in-memory            generate the preset in memory instead of a temporary directory",
        "--device D             Cpu (default) or a GPU",
        "--max-gpu-memory LIST  budgets to sweep, e.g. 2GB,4GB,8GB (repeatable)",
        "--prefetch-depth LIST  prefetch depths to sweep, e.g. 1,2,4",
        "--batch-size LIST      sequences per batch (default 1)",
        "--prompt-length LIST   prompt tokens (default 32)",
        "--tokens LIST          tokens generated per sequence, the first from the prefill (default 16)",
        "--no-host-cache        stream weights from the files (disk → pinned staging → GPU)",
        "--no-cuda-graphs       launch the decode kernels one by one, not as a CUDA graph per step",
        "--kv-cache TYPE        the GPU KV cache's type: fp16, bf16 or fp32 (default: the weights')",
        "--warmup N             unrecorded repetitions first (default 1)",
        "--repetitions N        recorded repetitions (default 3)",
        "--chart FILE           write an SVG chart of time per token against budget",
        "--threads N            CPU threads",
    ];

    public INnlCommand CreateCommand(CliArgs args)
    {
        var path = args.String("path") ?? (args.Positional.Count > 0 ? args.Positional[0] : null);
        var budgets = args.BytesList("max-gpu-memory");
        var depths = args.IntList("prefetch-depth");
        var batch = args.IntList("batch-size");
        var prompt = args.IntList("prompt-length");
        var tokens = args.IntList("tokens");
        return new MeasureInferenceCommand
        {
            Path = path,
            Preset = args.String("preset"),
            Layers = args.Int("layers"),
            DType = args.String("dtype") ?? "fp16",
            Seed = args.Int("seed") ?? 0,
            InMemory = args.Flag("in-memory"),
            Device = args.String("device") ?? "Cpu",
            MaxGpuMemory = budgets.Count > 0 ? budgets : null,
            PrefetchDepth = depths.Count > 0 ? depths : null,
            BatchSize = batch.Count > 0 ? batch : [1],
            PromptLength = prompt.Count > 0 ? prompt : [32],
            Tokens = tokens.Count > 0 ? tokens : [16],
            HostCache = !args.Flag("no-host-cache"),
            UseCudaGraphs = !args.Flag("no-cuda-graphs"),
            KvCacheType = args.String("kv-cache"),
            Warmup = args.Int("warmup") ?? 1,
            Repetitions = args.Int("repetitions") ?? 3,
            ChartPath = args.String("chart"),
            Threads = args.Int("threads"),
        };
    }
}
