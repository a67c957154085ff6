using Nnl.Engine.Generation;

namespace Nnl.Engine.Commands;

/// <summary>
/// Import-NnlModel / `nnl generate`'s loading step: reads a Hugging Face model directory
/// (config.json, safetensors, generation_config.json), checks every tensor against the
/// architecture, binds the weights on the device and writes an <see cref="NnlModel"/>.
/// </summary>
public sealed class ImportModelCommand : INnlCommand
{
    private const int ActivityId = 5001;

    /// <summary>The model directory.</summary>
    public required string Path { get; init; }

    /// <summary>"Cpu", or a GPU: "Cuda", "Cuda:N" or N (see <see cref="Runtime.DeviceSpec"/>).</summary>
    public string Device { get; init; } = "Cpu";

    /// <summary>GPU memory the model may use; null = what is free. GPU only.</summary>
    public long? MaxGpuMemory { get; init; }

    /// <summary>Nodes the copy stream brings in ahead of the one computing. GPU only.</summary>
    public int PrefetchDepth { get; init; } = 2;

    /// <summary>Transformer blocks to keep on the GPU; null = Auto (as many as fit). GPU only.</summary>
    public int? ResidentLayers { get; init; }

    /// <summary>False: stream weights from the safetensors files instead of pinned host memory. GPU only.</summary>
    public bool HostCache { get; init; } = true;

    /// <summary>False: launch a fully resident model's decode kernels one by one instead of replaying each step as a CUDA graph. GPU only.</summary>
    public bool UseCudaGraphs { get; init; } = true;

    /// <summary>The GPU KV cache's element type: fp16, bf16 or fp32; null = the weights' type. GPU only.</summary>
    public string? KvCacheType { get; init; }

    /// <summary>Tokens per sequence the KV cache is planned for. GPU only.</summary>
    public int ContextLength { get; init; } = 512;

    /// <summary>Threads for the CPU backend's matrix products; null = all cores.</summary>
    public int? Threads { get; init; }

    /// <summary>Resolves the tokenizer of a model directory (null when it has none); defaults to the directory's tokenizer.json or vocab.json + merges.txt.</summary>
    public Func<string, IGenerationTokenizer?>? TokenizerResolver { get; init; }

    public void Execute(ICommandSink sink)
    {
        if (string.IsNullOrWhiteSpace(Path)) throw new NnlArgumentException(nameof(Path), "A model directory is required.");
        var device = Runtime.DeviceSpec.Parse(Device);
        if (device.IsCpu && (MaxGpuMemory is not null || ResidentLayers is not null || !HostCache || !UseCudaGraphs || KvCacheType is not null))
            throw new NnlArgumentException(MaxGpuMemory is not null ? nameof(MaxGpuMemory) : ResidentLayers is not null ? nameof(ResidentLayers) : !HostCache ? nameof(HostCache)
                : !UseCudaGraphs ? nameof(UseCudaGraphs) : nameof(KvCacheType), "applies to a GPU device only; add -Device Cuda");
        Models.TensorDType? kvCacheType = KvCacheType is null ? null : Models.Synthetic.DTypeNames.Parse(KvCacheType, nameof(KvCacheType));
        if (Threads is <= 0) throw new NnlArgumentException(nameof(Threads), $"{Threads} must be positive.");

        var directory = System.IO.Path.GetFullPath(Path);
        var activity = $"Import-NnlModel {System.IO.Path.GetFileName(directory)}";
        sink.WriteProgress(new NnlProgress(ActivityId, activity, "Reading config and safetensors headers", 0));
        var lastPercent = -1;
        LoadedModel model;
        try
        {
            var tokenizer = TokenizerResolver is null ? ModelTokenizer.TryLoad(directory) : TokenizerResolver(directory);
            if (!device.IsCpu)
            {
                var options = new Runtime.Offload.OffloadOptions
                {
                    Device = device.Ordinal,
                    MaxGpuMemoryBytes = MaxGpuMemory,
                    PrefetchDepth = PrefetchDepth,
                    ResidentLayers = ResidentLayers,
                    HostCache = HostCache,
                    ContextLength = ContextLength,
                    UseCudaGraphs = UseCudaGraphs,
                    KvCacheType = kvCacheType,
                };
                string lastStage = "";
                model = LoadedModel.LoadGpu(directory, options, tokenizer, (stage, done, total) =>
                {
                    var percent = total == 0 ? 100 : (int)(done * 100 / total);
                    if (percent == lastPercent && stage == lastStage) return;
                    lastPercent = percent;
                    lastStage = stage;
                    sink.WriteProgress(new NnlProgress(ActivityId, activity, $"{stage}: {done / (1 << 20)} of {total / (1 << 20)} MiB", percent));
                }, sink.Cancellation);
                var record = model.ToRecord(device.ToString());
                var plan = ((Runtime.Offload.OffloadRunner)model.Runner).Plan;
                if (plan.DepthLowered)
                    sink.WriteWarning($"-PrefetchDepth {PrefetchDepth} does not fit in the budget; using {plan.Options.PrefetchDepth}.");
                sink.WriteVerbose($"Offload plan: {plan}");
                sink.WriteRecord(record);
                return;
            }
            model = LoadedModel.LoadCpu(directory, tokenizer, (done, total) =>
            {
                var percent = total == 0 ? 100 : (int)(done * 100 / total);
                if (percent == lastPercent) return;
                lastPercent = percent;
                sink.WriteProgress(new NnlProgress(ActivityId, activity, $"Binding weights: {done / (1 << 20)} of {total / (1 << 20)} MiB", percent));
            }, sink.Cancellation, Threads);
        }
        finally
        {
            sink.WriteProgress(new NnlProgress(ActivityId, activity, "Done", 100, Completed: true));
        }
        sink.WriteRecord(model.ToRecord("Cpu"));
    }
}
