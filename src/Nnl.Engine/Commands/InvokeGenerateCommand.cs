using Nnl.Engine.Generation;

namespace Nnl.Engine.Commands;

/// <summary>
/// Invoke-NnlGenerate / `nnl generate`: continues each prompt with the model. Writes one
/// <see cref="NnlGenerationResult"/> per prompt, or with <see cref="Stream"/> one
/// <see cref="NnlGeneratedToken"/> per token the moment it exists. Unset sampling parameters take
/// the model's generation_config.json, else transformers' defaults (greedy unless it says do_sample).
/// Cancellation stops within one token (between nodes of the forward pass).
/// </summary>
public sealed class InvokeGenerateCommand : INnlCommand
{
    public required NnlModel Model { get; init; }

    /// <summary>Prompts as text (needs the model's tokenizer).</summary>
    public IReadOnlyList<string>? Prompt { get; init; }

    /// <summary>One prompt as token ids (no tokenizer needed).</summary>
    public IReadOnlyList<int>? TokenIds { get; init; }

    public int? MaxNewTokens { get; init; }
    public double? Temperature { get; init; }
    public int? TopK { get; init; }
    public double? TopP { get; init; }
    public double? RepetitionPenalty { get; init; }
    public int? Seed { get; init; }
    public IReadOnlyList<string>? StopStrings { get; init; }
    public IReadOnlyList<int>? StopTokenIds { get; init; }
    public bool Stream { get; init; }

    /// <summary>With <see cref="Stream"/>, also write each prompt's result (its statistics) once it ends: `nnl generate --stream` prints both.</summary>
    public bool ResultsAfterStream { get; init; }

    public void Execute(ICommandSink sink)
    {
        if (Model is null) throw new NnlArgumentException(nameof(Model), "A model is required.");
        if (!Model.IsLoaded) throw new NnlArgumentException(nameof(Model), $"{Model.Name} was removed; import it again.");
        var session = Model.Session;

        var prompts = new List<GenerationPrompt>();
        if (Prompt is { Count: > 0 })
        {
            if (session.Tokenizer is null)
                throw new NnlArgumentException(nameof(Prompt), $"{Model.Path} has no tokenizer Nnl can read; pass -TokenIds instead.");
            foreach (var p in Prompt)
            {
                if (p is null) throw new NnlArgumentException(nameof(Prompt), "A prompt cannot be null.");
                var ids = session.Tokenizer.Encode(p);
                if (ids.Count == 0 && session.Config.BosTokenId is { } bos) ids = new[] { bos };
                prompts.Add(new GenerationPrompt(p, ids));
            }
        }
        if (TokenIds is { Count: > 0 })
        {
            var text = "";
            prompts.Add(new GenerationPrompt(text, TokenIds.ToArray()));
        }
        if (prompts.Count == 0) throw new NnlArgumentException(nameof(Prompt), "Give a prompt (or token ids).");

        var options = Options(session);
        var generator = new TextGenerator(session);
        Action<NnlGeneratedToken>? onToken = Stream ? t => sink.WriteRecord(t) : null;
        var results = generator.Generate(prompts, options, onToken, sink.Cancellation);
        if (!Stream || ResultsAfterStream)
            foreach (var r in results) sink.WriteRecord(r);
    }

    internal GenerationOptions Options(LoadedModel session)
    {
        var defaults = session.GenerationConfig;
        var sampling = Temperature is { } t ? t > 0 : defaults.DoSample == true;
        return new GenerationOptions
        {
            MaxNewTokens = MaxNewTokens ?? defaults.MaxNewTokens ?? 128,
            Temperature = sampling ? Temperature ?? defaults.Temperature ?? 1.0 : 0,
            TopK = TopK ?? defaults.TopK ?? (sampling ? 50 : 0),
            TopP = TopP ?? defaults.TopP ?? 1.0,
            RepetitionPenalty = RepetitionPenalty ?? defaults.RepetitionPenalty ?? 1.0,
            Seed = Seed,
            StopStrings = StopStrings ?? Array.Empty<string>(),
            StopTokenIds = StopTokenIds ?? Array.Empty<int>(),
        };
    }
}
