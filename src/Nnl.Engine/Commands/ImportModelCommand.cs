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

    /// <summary>"Cpu" (the CUDA devices come with the GPU backend).</summary>
    public string Device { get; init; } = "Cpu";

    /// <summary>Threads for the CPU backend's matrix products; null = all cores.</summary>
    public int? Threads { get; init; }

    /// <summary>Resolves the tokenizer of a model directory (null when it has none). Set by the host once tokenizers are wired in.</summary>
    public Func<string, IGenerationTokenizer?>? TokenizerResolver { get; init; }

    public void Execute(ICommandSink sink)
    {
        if (string.IsNullOrWhiteSpace(Path)) throw new NnlArgumentException(nameof(Path), "A model directory is required.");
        if (!string.Equals(Device, "Cpu", StringComparison.OrdinalIgnoreCase))
            throw new NnlArgumentException(nameof(Device), $"Device '{Device}' is not available in this build; use Cpu.");
        if (Threads is <= 0) throw new NnlArgumentException(nameof(Threads), $"{Threads} must be positive.");

        var directory = System.IO.Path.GetFullPath(Path);
        var activity = $"Import-NnlModel {System.IO.Path.GetFileName(directory)}";
        sink.WriteProgress(new NnlProgress(ActivityId, activity, "Reading config and safetensors headers", 0));
        var lastPercent = -1;
        LoadedModel model;
        try
        {
            var tokenizer = TokenizerResolver?.Invoke(directory);
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
