using Nnl.Engine.Generation;
using Nnl.Engine.Models;
using Nnl.Engine.Models.Synthetic;
using Nnl.Engine.Runtime;
using Nnl.Engine.Runtime.Offload;

namespace Nnl.Engine.Benchmarks;

/// <summary>
/// What to load and how: a model directory or a generated model, the device and the offload
/// settings a benchmark point sweeps.
/// </summary>
public sealed record ModelLoadRequest
{
    /// <summary>A model directory (null for a generated model).</summary>
    public string? Path { get; init; }

    /// <summary>A generated model, loaded with no files: on a GPU its weights go straight from the generator into pinned memory.</summary>
    public SyntheticModel? Synthetic { get; init; }

    /// <summary>
    /// <see cref="Synthetic"/>'s weights already generated into host memory, for the CPU engine to
    /// bind (a sweep generates them once); the caller keeps them. Null: generated at load, owned by the model.
    /// </summary>
    public WeightCatalog? Weights { get; init; }

    /// <summary>The model's name in records ("memory:llama-2-13b"); the directory when null.</summary>
    public string? Name { get; init; }

    /// <summary>"Cpu", or a GPU: "Cuda", "Cuda:N" or N.</summary>
    public string Device { get; init; } = "Cpu";

    /// <summary>GPU memory the model may use; null = what is free. GPU only.</summary>
    public long? MaxGpuMemoryBytes { get; init; }

    /// <summary>Nodes the copy stream may run ahead; null = the engine's default. GPU only.</summary>
    public int? PrefetchDepth { get; init; }

    public int? ResidentLayers { get; init; }
    public bool HostCache { get; init; } = true;

    /// <summary>Replay fully resident decode steps as CUDA graphs. GPU only.</summary>
    public bool UseCudaGraphs { get; init; } = true;

    /// <summary>The GPU KV cache's element type; null = the weights' type. GPU only.</summary>
    public TensorDType? KvCacheType { get; init; }

    /// <summary>Sequences, tokens per sequence and prefill rows the GPU plan reserves room for.</summary>
    public int BatchSize { get; init; } = 1;
    public int ContextLength { get; init; } = 512;
    public int MaxPrefillRows { get; init; } = 512;

    /// <summary>CPU threads; null = all cores.</summary>
    public int? Threads { get; init; }

    public IGenerationTokenizer? Tokenizer { get; init; }

    public DeviceSpec DeviceSpec => DeviceSpec.Parse(Device);
}

/// <summary>
/// Turns a <see cref="ModelLoadRequest"/> into a <see cref="LoadedModel"/> whose runner fits the
/// device — the CPU engine, or the GPU offload runner under the request's budget — the same way
/// Import-NnlModel loads a directory. Measure-NnlInference and New-NnlModel -InMemory load through here.
/// </summary>
public static class ModelLoader
{
    /// <param name="progress">(stage, done, total), on the calling thread.</param>
    public static LoadedModel Load(ModelLoadRequest request, Action<string, long, long>? progress = null, CancellationToken cancellation = default)
    {
        if (request.Path is null == request.Synthetic is null)
            throw new ArgumentException("Give either a model directory or a generated model.", nameof(request));
        var device = request.DeviceSpec;
        return device.IsCpu ? LoadCpu(request, progress, cancellation) : LoadGpu(request, device, progress, cancellation);
    }

    private static LoadedModel LoadCpu(ModelLoadRequest r, Action<string, long, long>? progress, CancellationToken cancellation)
    {
        Action<long, long> binding = (done, total) => progress?.Invoke("Binding weights", done, total);
        if (r.Path is not null) return LoadedModel.LoadCpu(r.Path, r.Tokenizer, binding, cancellation, r.Threads);

        var model = r.Synthetic!;
        var weights = r.Weights ?? InMemoryModel.Generate(model, (done, total) => progress?.Invoke("Generating weights", done, total), cancellation);
        return LoadedModel.LoadCpu(r.Name ?? "memory:" + model.Name, model.Config, GenerationConfigOf(model), weights,
            ownsWeights: r.Weights is null, r.Tokenizer, binding, cancellation, r.Threads);
    }

    private static LoadedModel LoadGpu(ModelLoadRequest r, DeviceSpec device, Action<string, long, long>? progress, CancellationToken cancellation)
    {
        var defaults = new OffloadOptions();
        var options = new OffloadOptions
        {
            Device = device.Ordinal,
            MaxGpuMemoryBytes = r.MaxGpuMemoryBytes,
            PrefetchDepth = r.PrefetchDepth ?? defaults.PrefetchDepth,
            ResidentLayers = r.ResidentLayers,
            HostCache = r.HostCache,
            ContextLength = r.ContextLength,
            BatchSize = r.BatchSize,
            MaxPrefillRows = r.MaxPrefillRows,
            UseCudaGraphs = r.UseCudaGraphs,
            KvCacheType = r.KvCacheType,
        };
        if (r.Path is not null) return LoadedModel.LoadGpu(r.Path, options, r.Tokenizer, progress, cancellation);

        // No files and no host copy: the runner packs its pinned buffers straight from the generator.
        var model = r.Synthetic!;
        var runner = OffloadRunner.Create(model.BuildTable(), model.Weights, options, progress, cancellation);
        return new LoadedModel(r.Name ?? "memory:" + model.Name, model.Config, GenerationConfigOf(model), runner, r.Tokenizer);
    }

    private static GenerationConfig GenerationConfigOf(SyntheticModel model) =>
        GenerationConfig.Empty with { BosTokenId = model.Config.BosTokenId, EosTokenIds = model.Config.EosTokenIds };
}
