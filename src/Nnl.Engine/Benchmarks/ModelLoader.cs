using Nnl.Engine.Generation;
using Nnl.Engine.Models;

namespace Nnl.Engine.Benchmarks;

/// <summary>
/// What to load and how: a model directory or weights already in memory, the device and the
/// offload settings a benchmark point sweeps. The same request loads on the CPU and, once the GPU
/// offload runner is wired in here, on a GPU under a memory budget.
/// </summary>
public sealed record ModelLoadRequest
{
    /// <summary>A model directory (null when <see cref="Weights"/> is given).</summary>
    public string? Path { get; init; }

    /// <summary>Weights that are already open, typically generated in memory.</summary>
    public WeightCatalog? Weights { get; init; }

    /// <summary>The loaded model disposes <see cref="Weights"/> with itself (New-NnlModel -InMemory); otherwise the caller keeps them.</summary>
    public bool OwnsWeights { get; init; }

    /// <summary>The config of <see cref="Weights"/> (read from the directory when <see cref="Path"/> is given).</summary>
    public ModelConfig? Config { get; init; }

    public GenerationConfig GenerationConfig { get; init; } = GenerationConfig.Empty;

    /// <summary>The model's name in records ("llama-2-13b", a directory name).</summary>
    public string? Name { get; init; }

    /// <summary>"Cpu", or a CUDA device ("Cuda:0", "0").</summary>
    public string Device { get; init; } = "Cpu";

    /// <summary>GPU memory the model may use; null = what is free (ignored on the CPU).</summary>
    public long? MaxGpuMemoryBytes { get; init; }

    /// <summary>Nodes the copy stream may run ahead (ignored on the CPU).</summary>
    public int? PrefetchDepth { get; init; }

    /// <summary>Sequences and tokens per sequence the KV cache is planned for.</summary>
    public int BatchSize { get; init; } = 1;
    public int ContextLength { get; init; } = 512;

    /// <summary>CPU threads; null = all cores.</summary>
    public int? Threads { get; init; }

    public IGenerationTokenizer? Tokenizer { get; init; }

    public static bool IsCpu(string device) => string.Equals(device, "Cpu", StringComparison.OrdinalIgnoreCase);
}

/// <summary>
/// Turns a <see cref="ModelLoadRequest"/> into a <see cref="LoadedModel"/> whose runner fits the
/// device: the CPU engine today; the GPU offload runner plugs in at <see cref="LoadGpu"/>, and
/// Measure-NnlInference and New-NnlModel -InMemory pick it up without change.
/// </summary>
public static class ModelLoader
{
    /// <summary>Replaces the GPU loader (tests); null = the offload runner.</summary>
    public static Func<ModelLoadRequest, Action<long, long>?, CancellationToken, LoadedModel>? LoadGpu { get; set; }

    /// <summary>The GPU path: the offload runner under the request's budget and prefetch depth.</summary>
    private static LoadedModel LoadOffloaded(ModelLoadRequest request, Action<long, long>? progress, CancellationToken cancellation)
    {
        var device = Runtime.DeviceSpec.Parse(request.Device);
        var options = new Runtime.Offload.OffloadOptions
        {
            Device = device.Ordinal,
            MaxGpuMemoryBytes = request.MaxGpuMemoryBytes,
            PrefetchDepth = request.PrefetchDepth ?? 2,
            BatchSize = request.BatchSize,
            ContextLength = request.ContextLength,
            MaxPrefillRows = Math.Max(request.BatchSize, Math.Min(request.ContextLength * request.BatchSize, 4096)),
        };
        Action<string, long, long>? staged = progress is null ? null : (_, done, total) => progress(done, total);
        if (request.Path is not null)
            return LoadedModel.LoadGpu(request.Path, options, request.Tokenizer, staged, cancellation);
        return LoadedModel.LoadGpu(request.Name ?? request.Weights!.Directory, request.Config!, request.GenerationConfig, request.Weights!,
            request.OwnsWeights, options, request.Tokenizer, staged, cancellation);
    }

    public static LoadedModel Load(ModelLoadRequest request, Action<long, long>? progress = null, CancellationToken cancellation = default)
    {
        if (request.Path is null == request.Weights is null)
            throw new ArgumentException("Give either a model directory or weights, not both.", nameof(request));
        if (request.Weights is not null && request.Config is null)
            throw new ArgumentException("In-memory weights need their config.", nameof(request));

        if (!ModelLoadRequest.IsCpu(request.Device))
            return (LoadGpu ?? LoadOffloaded)(request, progress, cancellation);
        if (request.Path is not null)
            return LoadedModel.LoadCpu(request.Path, request.Tokenizer, progress, cancellation, request.Threads);
        return LoadedModel.LoadCpu(request.Name ?? request.Weights!.Directory, request.Config!, request.GenerationConfig, request.Weights!,
            ownsWeights: request.OwnsWeights, request.Tokenizer, progress, cancellation, request.Threads);
    }
}
