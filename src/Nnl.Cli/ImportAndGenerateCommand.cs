using Nnl.Engine;
using Nnl.Engine.Commands;
using Nnl.Engine.Generation;

namespace Nnl.Cli;

/// <summary>
/// `nnl generate`: Import-NnlModel, Invoke-NnlGenerate and Remove-NnlModel in one command, since a
/// CLI process cannot keep a model between calls. The model record is not printed (--verbose says
/// what was loaded); the generated text is printed above its statistics (as it comes with --stream; JSON lines carry it).
/// </summary>
public sealed class ImportAndGenerateCommand : INnlCommand
{
    public required ImportModelCommand Import { get; init; }

    /// <summary>The generation to run; its Model is replaced by the imported one.</summary>
    public required InvokeGenerateCommand Generate { get; init; }

    /// <summary>Print each result's text as plain lines before its statistics (the table omits it).</summary>
    public bool PrintText { get; init; }

    public void Execute(ICommandSink sink)
    {
        var importSink = new InterceptingSink(sink);
        Import.Execute(importSink);
        var model = importSink.Model ?? throw new NnlArgumentException("Path", $"{Import.Path}: the import wrote no model");
        try
        {
            sink.WriteVerbose($"Loaded {model.Name}: {model.Architecture}, {model.Parameters:N0} parameters, {model.DType}, on {model.Device}"
                + (model.BoundMillisecondsPerToken is { } b ? $", {model.StreamedBytesPerToken:N0} bytes streamed per token, bound {b:F2} ms/token" : ""));
            var generate = new InvokeGenerateCommand
            {
                Model = model,
                Prompt = Generate.Prompt,
                TokenIds = Generate.TokenIds,
                MaxNewTokens = Generate.MaxNewTokens,
                Temperature = Generate.Temperature,
                TopK = Generate.TopK,
                TopP = Generate.TopP,
                RepetitionPenalty = Generate.RepetitionPenalty,
                Seed = Generate.Seed,
                StopStrings = Generate.StopStrings,
                StopTokenIds = Generate.StopTokenIds,
                Stream = Generate.Stream,
                ResultsAfterStream = Generate.Stream,
            };
            generate.Execute(PrintText ? new TextFirstSink(sink) : sink);
        }
        finally
        {
            new RemoveModelCommand { Model = [model] }.Execute(new InterceptingSink(sink));
        }
    }

    /// <summary>Keeps the imported model for the next step; passes progress, warnings and verbose text through.</summary>
    private sealed class InterceptingSink(ICommandSink inner) : ICommandSink
    {
        public NnlModel? Model { get; private set; }
        public CancellationToken Cancellation => inner.Cancellation;
        public void WriteRecord(object record) { if (record is NnlModel m) Model = m; else inner.WriteRecord(record); }
        public void WriteProgress(NnlProgress progress) => inner.WriteProgress(progress);
        public void WriteWarning(string message) => inner.WriteWarning(message);
        public void WriteVerbose(string message) => inner.WriteVerbose(message);
    }

    /// <summary>Writes a result's text (a plain line) before the result itself, whose table leaves the text out.</summary>
    private sealed class TextFirstSink(ICommandSink inner) : ICommandSink
    {
        public CancellationToken Cancellation => inner.Cancellation;
        public void WriteRecord(object record)
        {
            if (record is NnlGenerationResult r) inner.WriteRecord(r.Text);
            inner.WriteRecord(record);
        }
        public void WriteProgress(NnlProgress progress) => inner.WriteProgress(progress);
        public void WriteWarning(string message) => inner.WriteWarning(message);
        public void WriteVerbose(string message) => inner.WriteVerbose(message);
    }
}
