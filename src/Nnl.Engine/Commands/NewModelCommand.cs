using Nnl.Engine.Benchmarks;
using Nnl.Engine.Models;
using Nnl.Engine.Models.Synthetic;

namespace Nnl.Engine.Commands;

/// <summary>
/// New-NnlModel / `nnl new-model`: a model of a published shape (<see cref="Preset"/>) or of any
/// config.json (<see cref="Config"/>) with random weights — written as a Hugging Face model
/// directory that transformers and Nnl both load (an <see cref="NnlGeneratedModel"/> record), or
/// with <see cref="InMemory"/> generated straight into host memory and loaded (an NnlModel).
/// </summary>
public sealed class NewModelCommand : INnlCommand
{
    private const int ActivityId = 7001;

    public string? Preset { get; init; }

    /// <summary>A config.json (or a directory holding one) of any shape Nnl runs.</summary>
    public string? Config { get; init; }

    /// <summary>The directory to write (created if needed; must be empty unless <see cref="Force"/>).</summary>
    public string? Path { get; init; }

    /// <summary>fp16, bf16 or fp32.</summary>
    public string DType { get; init; } = "fp16";

    public int Seed { get; init; }

    /// <summary>Keep only the first n transformer blocks.</summary>
    public int? Layers { get; init; }

    public bool Force { get; init; }

    /// <summary>No files: generate into host memory and load the model on <see cref="Device"/>.</summary>
    public bool InMemory { get; init; }

    /// <summary>Where an -InMemory model is loaded: "Cpu", or a GPU ("Cuda", "Cuda:N", N), where the weights go from the generator straight into pinned memory.</summary>
    public string Device { get; init; } = "Cpu";

    public int? Threads { get; init; }

    /// <summary>Largest shard file.</summary>
    public long MaxShardBytes { get; init; } = ModelDirectoryWriter.DefaultMaxShardBytes;

    /// <summary>Free-space oracle (tests inject a small one to simulate a full disk).</summary>
    public IFreeSpaceProvider FreeSpace { get; init; } = DriveFreeSpaceProvider.Instance;

    public void Execute(ICommandSink sink)
    {
        var model = Describe();
        if (InMemory) ExecuteInMemory(model, sink);
        else ExecuteToDirectory(model, sink);
    }

    /// <summary>The model the parameters describe (checked before anything is written).</summary>
    public SyntheticModel Describe()
    {
        var hasPreset = !string.IsNullOrWhiteSpace(Preset);
        var hasConfig = !string.IsNullOrWhiteSpace(Config);
        if (hasPreset == hasConfig) throw new NnlArgumentException(hasPreset ? "Config" : "Preset", "Give either -Preset or -Config (one of them).");
        if (InMemory && !string.IsNullOrWhiteSpace(Path)) throw new NnlArgumentException("Path", "-InMemory writes no files; leave out -Path.");
        if (!InMemory && string.IsNullOrWhiteSpace(Path)) throw new NnlArgumentException("Path", "A directory to write the model to is required (or -InMemory).");
        if (MaxShardBytes < 1) throw new NnlArgumentException(nameof(MaxShardBytes), $"must be positive, not {MaxShardBytes}.");
        var dtype = DTypeNames.Parse(DType);
        return hasPreset
            ? SyntheticModel.FromPreset(Preset!, Layers, dtype, Seed)
            : SyntheticModel.FromConfigFile(Config!, Layers, dtype, Seed);
    }

    private void ExecuteToDirectory(SyntheticModel model, ICommandSink sink)
    {
        var activity = $"New-NnlModel {model.Name}";
        var lastPercent = -1;
        var writer = new ModelDirectoryWriter
        {
            MaxShardBytes = MaxShardBytes,
            FreeSpace = FreeSpace,
            Force = Force,
            Progress = (done, total) =>
            {
                var percent = total == 0 ? 100 : (int)(done * 100 / total);
                if (percent == lastPercent) return;
                lastPercent = percent;
                sink.WriteProgress(new NnlProgress(ActivityId, activity, $"Writing weights: {done >> 20} of {total >> 20} MiB", percent));
            },
        };
        ModelDirectoryWriteResult result;
        var parameters = model.ParameterCount;
        try
        {
            sink.WriteProgress(new NnlProgress(ActivityId, activity, "Checking free space", 0));
            result = writer.Write(model, Path!, sink.Cancellation);
        }
        finally
        {
            sink.WriteProgress(new NnlProgress(ActivityId, activity, "Done", 100, Completed: true));
        }
        sink.WriteVerbose($"Wrote {result.Files.Count} files to {result.Directory} in {result.Seconds:F2} s.");
        sink.WriteRecord(new NnlGeneratedModel
        {
            Name = model.Name,
            Preset = string.IsNullOrWhiteSpace(Preset) ? null : model.Name,
            Architecture = model.Config.Architecture,
            Parameters = parameters,
            Layers = model.Config.LayerCount,
            HiddenSize = model.Config.HiddenSize,
            VocabSize = model.Config.VocabSize,
            DType = model.DType.SafetensorsName(),
            Seed = model.Seed,
            WeightBytes = model.WeightBytes,
            BytesWritten = result.BytesWritten,
            Shards = result.ShardCount,
            Seconds = result.Seconds,
            WriteGBps = result.Seconds > 0 ? result.BytesWritten / result.Seconds / 1e9 : 0,
            Path = result.Directory,
        });
    }

    private void ExecuteInMemory(SyntheticModel model, ICommandSink sink)
    {
        var activity = $"New-NnlModel {model.Name} (in memory)";
        var lastPercent = -1;
        var lastStage = "";
        void Report(string what, long done, long total)
        {
            var percent = total == 0 ? 100 : (int)(done * 100 / total);
            if (percent == lastPercent) return;
            lastPercent = percent;
            sink.WriteProgress(new NnlProgress(ActivityId, activity, $"{what}: {done >> 20} of {total >> 20} MiB", percent));
        }
        try
        {
            var loaded = ModelLoader.Load(new ModelLoadRequest
            {
                Synthetic = model,
                Name = "memory:" + model.Name,
                Device = Device,
                Threads = Threads,
            }, (stage, done, total) =>
            {
                if (stage != lastStage) lastPercent = -1;
                lastStage = stage;
                Report(stage, done, total);
            }, sink.Cancellation);
            sink.WriteRecord(loaded.ToRecord(loaded.Runner.Device));
        }
        finally
        {
            sink.WriteProgress(new NnlProgress(ActivityId, activity, "Done", 100, Completed: true));
        }
    }
}
