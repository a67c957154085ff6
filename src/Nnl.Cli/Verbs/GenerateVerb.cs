using Nnl.Engine;
using Nnl.Engine.Commands;

namespace Nnl.Cli.Verbs;

public sealed class GenerateVerb : ICliVerb
{
    public string Name => "generate";
    public string Summary => "load a model directory (CPU or GPU, offloaded under a budget) and continue a prompt; prints tokens/s, bound, efficiency";
    public IReadOnlyList<string> Flags => ["stream", "no-host-cache", "no-cuda-graphs"];
    public IReadOnlyList<string> Options =>
    [
        "MODEL-DIR              a Hugging Face model directory (config.json, *.safetensors, tokenizer)",
        "--prompt TEXT          the text to continue (required)",
        "--device D             Cpu (default), Cuda, Cuda:N or N",
        "--max-gpu-memory S     GPU memory budget (2GB, 512MB, bytes); default what is free",
        "--prefetch-depth N     nodes whose weights are copied ahead of the one computing (default 2)",
        "--resident-layers N    transformer blocks kept on the GPU, or auto (default: as many as fit)",
        "--no-host-cache        stream weights from the safetensors files instead of pinned host memory",
        "--no-cuda-graphs       launch a fully resident model's decode kernels one by one, not as a CUDA graph per step",
        "--kv-cache TYPE        the GPU KV cache's type: fp16, bf16 or fp32 (default: the weights')",
        "--context-length N     tokens the KV cache is planned for (default 512)",
        "--threads N            CPU threads for the matrix products (default all cores)",
        "--max-new-tokens N     tokens to generate (default generation_config.json's, else 128)",
        "--temperature T        0 = greedy; > 0 samples (default generation_config.json's, else greedy)",
        "--top-k K              sample from the K most likely tokens (0 = all)",
        "--top-p P              sample from the smallest set holding probability P",
        "--repetition-penalty R divide the logits of tokens already seen by R (1 = off)",
        "--seed S               sampling seed: the same seed gives the same text",
        "--stop S               stop at this text (repeatable, comma-separated)",
        "--stream               print each token as it is generated, then the statistics",
    ];

    public INnlCommand CreateCommand(CliArgs args)
    {
        var path = ModelDirectory(args);
        var prompt = args.String("prompt") ?? throw new NnlArgumentException("--prompt", "give the text to continue: nnl generate DIR --prompt \"...\"");
        var stream = args.Flag("stream");
        return new ImportAndGenerateCommand
        {
            Import = new ImportModelCommand
            {
                Path = path,
                Device = args.String("device") ?? "Cpu",
                MaxGpuMemory = args.Bytes("max-gpu-memory"),
                PrefetchDepth = args.Int("prefetch-depth") ?? 2,
                ResidentLayers = ResidentLayersArgument.Parse(args.String("resident-layers"), "--resident-layers"),
                HostCache = !args.Flag("no-host-cache"),
                UseCudaGraphs = !args.Flag("no-cuda-graphs"),
                KvCacheType = args.String("kv-cache"),
                ContextLength = args.Int("context-length") ?? 512,
                Threads = args.Int("threads"),
            },
            Generate = new InvokeGenerateCommand
            {
                Model = null!, // the imported model, set by ImportAndGenerateCommand
                Prompt = [prompt],
                MaxNewTokens = args.Int("max-new-tokens"),
                Temperature = args.Double("temperature"),
                TopK = args.Int("top-k"),
                TopP = args.Double("top-p"),
                RepetitionPenalty = args.Double("repetition-penalty"),
                Seed = args.Int("seed"),
                StopStrings = args.List("stop") is { Count: > 0 } stops ? stops : null,
                Stream = stream,
            },
            PrintText = !args.Json && !stream,
        };
    }

    /// <summary>The one positional argument the model verbs take.</summary>
    internal static string ModelDirectory(CliArgs args) => args.Positional switch
    {
        [var one] => one,
        [] => throw new NnlArgumentException("MODEL-DIR", "give a model directory (or tokenizer file) as the first argument"),
        _ => throw new NnlArgumentException("MODEL-DIR", $"one model directory expected, got {args.Positional.Count}: {string.Join(" ", args.Positional)}"),
    };
}
