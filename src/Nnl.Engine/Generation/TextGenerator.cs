using System.Diagnostics;
using Nnl.Engine.Runtime;

namespace Nnl.Engine.Generation;

/// <summary>A prompt as text (when there is a tokenizer) and as the ids the model reads.</summary>
public sealed record GenerationPrompt(string Text, IReadOnlyList<int> TokenIds);

/// <summary>
/// The generation loop: one prefill pass over all prompts (ragged rows, no padding), then one
/// decode pass per step with a row per unfinished sequence, until each stops. Each sequence has its
/// own sampler (seeded Seed + prompt index) and its own text stream.
/// </summary>
public sealed class TextGenerator
{
    private readonly LoadedModel _model;

    public TextGenerator(LoadedModel model) { _model = model; }

    public IReadOnlyList<NnlGenerationResult> Generate(
        IReadOnlyList<GenerationPrompt> prompts,
        GenerationOptions options,
        Action<NnlGeneratedToken>? onToken = null,
        CancellationToken cancellation = default)
    {
        options.Validate();
        if (prompts.Count == 0) return Array.Empty<NnlGenerationResult>();
        if (options.StopStrings.Count > 0 && _model.Tokenizer is null)
            throw new NnlArgumentException(nameof(options.StopStrings), "Stop strings need a tokenizer; this model directory has none.");

        lock (_model.Gate)
        {
            if (_model.IsDisposed) throw new NnlArgumentException("Model", $"The model at {_model.Path} was removed.");
            return Run(prompts, options, onToken, cancellation);
        }
    }

    private sealed class Sequence
    {
        public required int Index;
        public required GenerationPrompt Prompt;
        public required List<int> Tokens;
        public required TokenSampler Sampler;
        public IGenerationDecoder? Decoder;
        public required StopStringFilter StopFilter;
        public readonly System.Text.StringBuilder Text = new();
        public int Generated;
        public StopReason? Stopped;
        public double FirstTokenMs = double.NaN;
        public double LastTokenMs;
    }

    private IReadOnlyList<NnlGenerationResult> Run(IReadOnlyList<GenerationPrompt> prompts, GenerationOptions options,
        Action<NnlGeneratedToken>? onToken, CancellationToken cancellation)
    {
        var runner = _model.Runner;
        var config = _model.Config;
        var vocab = config.VocabSize;
        var seed = options.Seed ?? Random.Shared.Next();
        var stopIds = new HashSet<int>(options.StopTokenIds.Concat(_model.EosTokenIds));

        foreach (var (p, i) in prompts.Select((p, i) => (p, i)))
        {
            if (p.TokenIds.Count == 0) throw new NnlArgumentException("Prompt", $"Prompt {i} has no tokens.");
            foreach (var id in p.TokenIds)
                if ((uint)id >= (uint)vocab) throw new NnlArgumentException("Prompt", $"Prompt {i} holds token id {id}, outside the vocabulary of {vocab}.");
        }

        // Learned position tables (GPT-2) end at MaxPositions; rotary models could go on, but the config's limit is what they were trained for.
        var longest = prompts.Max(p => p.TokenIds.Count);
        if (longest > config.MaxPositions)
            throw new NnlArgumentException("Prompt", $"A prompt of {longest} tokens exceeds the model's context of {config.MaxPositions}.");
        var capacity = (int)Math.Min(config.MaxPositions, (long)longest + Math.Max(1, options.MaxNewTokens));

        var sequences = prompts.Select((p, i) => new Sequence
        {
            Index = i,
            Prompt = p,
            Tokens = p.TokenIds.ToList(),
            Sampler = new TokenSampler(options, unchecked(seed + i)),
            Decoder = _model.Tokenizer?.CreateDecoder(),
            StopFilter = new StopStringFilter(options.StopStrings),
        }).ToArray();

        var clock = Stopwatch.StartNew();
        NnlOffloadStatistics? offload = null, decodeOffload = null;
        var decodeSteps = 0;
        var isPrefill = true;
        runner.TakeStatistics(); // start from zero

        using var cache = runner.CreateKvCache(prompts.Count, capacity);
        // Greedy without a penalty takes the largest logit, which the device can pick itself: the next
        // step is then queued before this one's tokens reach the host (IGreedyDecodePipeline).
        using var pipeline = options.IsGreedy && options.RepetitionPenalty == 1.0 ? runner.CreateGreedyPipeline(cache) : null;
        if (options.MaxNewTokens == 0)
            foreach (var s in sequences) s.Stopped = StopReason.MaxNewTokens;

        // Prefill: every prompt token; logits only for each prompt's last token.
        var batch = PrefillBatch(sequences);
        try
        {
            var active = sequences.Where(s => s.Stopped is null).ToArray();
            while (active.Length > 0)
            {
                cancellation.ThrowIfCancellationRequested();
                int[] chosen;
                NnlOffloadStatistics? step;
                if (pipeline is not null && !isPrefill)
                {
                    if (pipeline.Pending == 0) pipeline.Enqueue(batch, idsFromDevice: false, cancellation);
                    // The step after this one goes in before this one's ids come back unless a sequence
                    // reaches a limit at this one; an end-of-sequence id or a stop string may still end
                    // one, and then that step is dropped below.
                    var ahead = active.All(s => s.Generated + 1 < options.MaxNewTokens && s.Tokens.Count + 1 < capacity)
                        ? DecodeBatch(active, ahead: true) : null;
                    if (ahead is not null) pipeline.Enqueue(ahead, idsFromDevice: true, cancellation);
                    chosen = pipeline.Take();
                    step = runner.TakeStatistics();
                }
                else
                {
                    var logits = runner.Forward(batch, cache, cancellation);
                    step = runner.TakeStatistics();
                    chosen = new int[active.Length];
                    for (var a = 0; a < active.Length; a++)
                        chosen[a] = active[a].Sampler.Next(new ReadOnlySpan<float>(logits, a * vocab, vocab), active[a].Tokens);
                }
                offload = NnlOffloadStatistics.Sum(offload, step);
                if (step is not null && !isPrefill)
                {
                    decodeOffload = NnlOffloadStatistics.Sum(decodeOffload, step);
                    decodeSteps++;
                }
                isPrefill = false;
                var elapsed = clock.Elapsed.TotalMilliseconds;

                for (var a = 0; a < active.Length; a++)
                {
                    var s = active[a];
                    var id = chosen[a];
                    s.Tokens.Add(id);
                    s.Generated++;
                    if (double.IsNaN(s.FirstTokenMs)) s.FirstTokenMs = elapsed;
                    s.LastTokenMs = elapsed;

                    var isStopToken = stopIds.Contains(id);
                    var text = "";
                    if (s.Decoder is not null && !isStopToken) text = s.StopFilter.Push(s.Decoder.Push(id));
                    s.Text.Append(text);
                    onToken?.Invoke(new NnlGeneratedToken(s.Index, s.Generated - 1, id, text, elapsed)
                    {
                        StreamedBytes = step?.StreamedBytes,
                        WeightWaitMilliseconds = step?.WeightWaitMilliseconds,
                    });

                    if (isStopToken) s.Stopped = StopReason.StopToken;
                    else if (s.StopFilter.Stopped) s.Stopped = StopReason.StopString;
                    else if (s.Generated >= options.MaxNewTokens) s.Stopped = StopReason.MaxNewTokens;
                    else if (s.Tokens.Count >= capacity) s.Stopped = StopReason.ContextFull;
                }

                var continuing = active.Where(s => s.Stopped is null).ToArray();
                if (pipeline is { Pending: > 0 } && continuing.Length != active.Length)
                {
                    // The step queued ahead has a row for a sequence that just stopped: dropped (its keys
                    // and values lie past that sequence's end); the others go on from the host's ids.
                    pipeline.Take();
                    offload = NnlOffloadStatistics.Sum(offload, runner.TakeStatistics());
                }
                active = continuing;
                if (active.Length == 0) break;
                // Decode: each unfinished sequence feeds its newest token at the next position (already
                // queued when the pipeline went ahead).
                if (pipeline is not { Pending: > 0 }) batch = DecodeBatch(active, ahead: false);
            }
        }
        finally
        {
            runner.Quiesce();
        }

        var total = clock.Elapsed.TotalMilliseconds;
        return sequences.Select(s => Result(s, options, total, runner.Device, seed, offload, decodeOffload ?? offload, Math.Max(1, decodeSteps))).ToArray();
    }

    /// <summary>
    /// A row per sequence (slot = its index, output row = its row): its newest token at the next position,
    /// or with <paramref name="ahead"/> the position after that, whose token the device chooses (the ids here are not read).
    /// </summary>
    private static TokenBatch DecodeBatch(Sequence[] active, bool ahead) => new(
        active.Select(s => ahead ? 0 : s.Tokens[^1]).ToArray(),
        active.Select(s => s.Tokens.Count - (ahead ? 0 : 1)).ToArray(),
        active.Select(s => s.Index).ToArray(),
        Enumerable.Range(0, active.Length).ToArray());

    private static TokenBatch PrefillBatch(Sequence[] sequences)
    {
        var ids = new List<int>();
        var positions = new List<int>();
        var slots = new List<int>();
        var outputRows = new List<int>();
        foreach (var s in sequences.Where(s => s.Stopped is null))
        {
            for (var t = 0; t < s.Tokens.Count; t++)
            {
                ids.Add(s.Tokens[t]);
                positions.Add(t);
                slots.Add(s.Index);
            }
            outputRows.Add(ids.Count - 1);
        }
        if (ids.Count == 0) // nothing to generate: still a valid (tiny) batch
            return new TokenBatch(new[] { sequences[0].Tokens[0] }, new[] { 0 }, new[] { 0 }, new[] { 0 });
        return new TokenBatch(ids.ToArray(), positions.ToArray(), slots.ToArray(), outputRows.ToArray());
    }

    private static NnlGenerationResult Result(Sequence s, GenerationOptions options, double totalMs, string device, int seed,
        NnlOffloadStatistics? offload, NnlOffloadStatistics? perTokenSource, int decodeSteps)
    {
        if (s.Decoder is not null && s.Stopped != StopReason.StopString)
            s.Text.Append(s.StopFilter.Push(s.Decoder.Flush()));
        s.Text.Append(s.StopFilter.Flush());

        var ttft = double.IsNaN(s.FirstTokenMs) ? 0 : s.FirstTokenMs;
        var tokensPerSecond = s.Generated switch
        {
            0 => 0,
            1 => totalMs > 0 ? 1000.0 / totalMs : 0,
            _ => s.LastTokenMs > s.FirstTokenMs ? (s.Generated - 1) * 1000.0 / (s.LastTokenMs - s.FirstTokenMs) : 0,
        };
        var msPerToken = s.Generated > 1 ? (s.LastTokenMs - s.FirstTokenMs) / (s.Generated - 1) : (double?)null;

        var result = new NnlGenerationResult
        {
            PromptIndex = s.Index,
            Prompt = s.Prompt.Text,
            Text = s.Text.ToString(),
            TokenIds = s.Tokens.Skip(s.Prompt.TokenIds.Count).ToArray(),
            PromptTokens = s.Prompt.TokenIds.Count,
            GeneratedTokens = s.Generated,
            StopReason = s.Stopped ?? StopReason.MaxNewTokens,
            TimeToFirstTokenMilliseconds = ttft,
            TokensPerSecond = tokensPerSecond,
            TotalMilliseconds = totalMs,
            Device = device,
            Seed = options.IsGreedy ? null : seed + s.Index,
        };
        if (offload is null || perTokenSource is null) return result;

        // Per-token figures come from the decode passes (the prefill streams the weights once for the whole prompt).
        var perToken = perTokenSource.StreamedBytes / decodeSteps;
        var bound = offload.PinnedHostToDeviceGBps > 0 ? perToken / (offload.PinnedHostToDeviceGBps * 1e6) : (double?)null;
        return result with
        {
            StreamedBytesPerToken = perToken,
            TransferMilliseconds = offload.TransferMilliseconds,
            ComputeMilliseconds = offload.ComputeMilliseconds,
            WeightWaitMilliseconds = offload.WeightWaitMilliseconds,
            PcieGBps = offload.TransferMilliseconds > 0 ? offload.StreamedBytes / (offload.TransferMilliseconds * 1e6) : null,
            BoundMillisecondsPerToken = bound,
            MillisecondsPerToken = msPerToken,
            Efficiency = bound is not null && msPerToken is > 0 ? bound / msPerToken : null,
            PeakGpuMemoryBytes = offload.PeakGpuMemoryBytes,
            DiskGBps = offload.DiskMilliseconds > 0 ? offload.DiskBytes / (offload.DiskMilliseconds * 1e6) : null,
        };
    }
}
