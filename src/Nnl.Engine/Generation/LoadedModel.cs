using Nnl.Engine.Models;
using Nnl.Engine.Models.Architectures;
using Nnl.Engine.Runtime;
using Nnl.Engine.Runtime.Cpu;

namespace Nnl.Engine.Generation;

/// <summary>
/// A model ready to generate: its configs, its runner (which owns the backend, the bound weights
/// and the mapped files) and its tokenizer. One generation at a time.
/// </summary>
public sealed class LoadedModel : IDisposable
{
    private readonly object _gate = new();

    public LoadedModel(string path, ModelConfig config, GenerationConfig generationConfig, IModelRunner runner, IGenerationTokenizer? tokenizer)
    {
        Path = path;
        Config = config;
        GenerationConfig = generationConfig;
        Runner = runner;
        Tokenizer = tokenizer;
    }

    public string Path { get; }
    public ModelConfig Config { get; }
    public GenerationConfig GenerationConfig { get; }
    public IModelRunner Runner { get; }
    public IGenerationTokenizer? Tokenizer { get; }
    public bool IsDisposed { get; private set; }

    /// <summary>Held while a generation runs (the KV cache and the runner are not shared).</summary>
    internal object Gate => _gate;

    /// <summary>
    /// Loads <paramref name="path"/> onto the CPU: reads config.json and generation_config.json,
    /// maps the safetensors, builds the computation table (checking every tensor) and binds the
    /// weights. <paramref name="progress"/> gets (bytes bound, total bytes).
    /// </summary>
    public static LoadedModel LoadCpu(string path, IGenerationTokenizer? tokenizer = null,
        Action<long, long>? progress = null, CancellationToken cancellation = default, int? threads = null)
    {
        var directory = System.IO.Path.GetFullPath(path);
        if (!Directory.Exists(directory)) throw new NnlArgumentException("Path", $"'{directory}' is not a directory.");
        var config = ModelConfig.Load(directory);
        var generationConfig = GenerationConfig.Load(directory);
        var weights = WeightCatalog.Open(directory);
        return LoadCpu(directory, config, generationConfig, weights, ownsWeights: true, tokenizer, progress, cancellation, threads);
    }

    /// <summary>
    /// Loads weights that are already open (files, or an in-memory catalog of generated weights)
    /// onto the CPU. With <paramref name="ownsWeights"/> the model disposes the catalog with itself;
    /// without, the caller keeps it (to load it again, as a benchmark sweep does).
    /// </summary>
    public static LoadedModel LoadCpu(string path, ModelConfig config, GenerationConfig generationConfig, WeightCatalog weights, bool ownsWeights,
        IGenerationTokenizer? tokenizer = null, Action<long, long>? progress = null, CancellationToken cancellation = default, int? threads = null)
    {
        CpuBackend? backend = null;
        ResidentWeightBinder? binder = null;
        try
        {
            var table = ModelArchitectures.Create(config).BuildTable(weights);
            backend = new CpuBackend(threads);
            binder = new ResidentWeightBinder(table, backend, weights, progress, cancellation);
            // The CPU holds its own F32 copies now; the runner keeps the files mapped only as long as it lives.
            var runner = ownsWeights
                ? new ComputationTableRunner(table, backend, binder, weights, backend, binder)
                : new ComputationTableRunner(table, backend, binder, backend, binder);
            return new LoadedModel(path, config, generationConfig, runner, tokenizer);
        }
        catch
        {
            binder?.Dispose();
            backend?.Dispose();
            if (ownsWeights) weights.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Loads <paramref name="path"/> onto a GPU under the offload options: plans which weights stay
    /// resident under the budget, packs the rest into pinned memory (or streams them from disk) and
    /// uploads the resident ones. <paramref name="progress"/> gets (stage, done, total).
    /// </summary>
    public static LoadedModel LoadGpu(string path, Runtime.Offload.OffloadOptions options, IGenerationTokenizer? tokenizer = null,
        Action<string, long, long>? progress = null, CancellationToken cancellation = default)
    {
        var directory = System.IO.Path.GetFullPath(path);
        if (!Directory.Exists(directory)) throw new NnlArgumentException("Path", $"'{directory}' is not a directory.");
        var config = ModelConfig.Load(directory);
        var generationConfig = GenerationConfig.Load(directory);
        var weights = WeightCatalog.Open(directory);
        return LoadGpu(directory, config, generationConfig, weights, ownsWeights: true, options, tokenizer, progress, cancellation);
    }

    /// <summary>
    /// Loads open weights (files, or an in-memory catalog) onto a GPU. With the host cache on, the
    /// streamed nodes are packed from the catalog's bytes (mapped files or memory); with it off they
    /// are read from the files by the disk reader, so the catalog must be file-backed.
    /// </summary>
    public static LoadedModel LoadGpu(string path, ModelConfig config, GenerationConfig generationConfig, WeightCatalog weights, bool ownsWeights,
        Runtime.Offload.OffloadOptions options, IGenerationTokenizer? tokenizer = null,
        Action<string, long, long>? progress = null, CancellationToken cancellation = default)
    {
        IWeightSource? source = null;
        try
        {
            source = options.HostCache ? weights : new Runtime.Offload.SafetensorsWeightSource(weights);
            var table = ModelArchitectures.Create(config).BuildTable(weights);
            var owned = new List<IDisposable>();
            if (ownsWeights) owned.Add(weights);
            if (source is Runtime.Offload.SafetensorsWeightSource d) owned.Add(d);
            var runner = Runtime.Offload.OffloadRunner.Create(table, source, options, progress, cancellation, owned);
            return new LoadedModel(path, config, generationConfig, runner, tokenizer);
        }
        catch
        {
            (source as Runtime.Offload.SafetensorsWeightSource)?.Dispose();
            if (ownsWeights) weights.Dispose();
            throw;
        }
    }

    /// <summary>End-of-sequence ids from generation_config.json, else config.json.</summary>
    public IReadOnlyList<int> EosTokenIds => GenerationConfig.EosTokenIds.Count > 0 ? GenerationConfig.EosTokenIds : Config.EosTokenIds;

    public NnlModel ToRecord(string device)
    {
        var table = Runner.Table;
        var dtypes = table.DistinctWeights.Select(t => t.DType).Distinct().ToArray();
        return new NnlModel
        {
            Name = System.IO.Path.GetFileName(Path.TrimEnd(System.IO.Path.DirectorySeparatorChar)),
            Architecture = Config.Architecture,
            Parameters = table.ParameterCount,
            Layers = Config.LayerCount,
            HiddenSize = Config.HiddenSize,
            Heads = Config.HeadCount,
            KvHeads = Config.KvHeadCount,
            VocabSize = Config.VocabSize,
            MaxPositions = Config.MaxPositions,
            DType = dtypes.Length == 1 ? dtypes[0].SafetensorsName() : "Mixed",
            Bytes = table.WeightBytes,
            Tokenizer = Tokenizer?.Name,
            Device = device,
            Path = Path,
            Session = this,
        }.WithOffload(Runner as Runtime.Offload.OffloadRunner);
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (IsDisposed) return;
            IsDisposed = true;
            Runner.Dispose();
        }
    }
}
