using System.Diagnostics;
using Nnl.Engine.Runtime;

namespace Nnl.Engine.Benchmarks;

/// <summary>The workload of one benchmark point.</summary>
public sealed record BenchmarkWorkload(int BatchSize, int PromptLength, int Tokens, int Warmup, int Repetitions, int Seed)
{
    /// <summary>Decode steps per repetition: the prefill yields each sequence's first token, every step one more.</summary>
    public int DecodeSteps => Tokens - 1;

    public void Validate(int maxPositions)
    {
        if (BatchSize < 1) throw new NnlArgumentException(nameof(BatchSize), $"must be at least 1, not {BatchSize}.");
        if (PromptLength < 1) throw new NnlArgumentException(nameof(PromptLength), $"must be at least 1, not {PromptLength}.");
        if (Tokens < 2) throw new NnlArgumentException(nameof(Tokens), $"must be at least 2 (one from the prefill, then decode steps), not {Tokens}.");
        if (Warmup < 0) throw new NnlArgumentException(nameof(Warmup), $"must be 0 or more, not {Warmup}.");
        if (Repetitions < 1) throw new NnlArgumentException(nameof(Repetitions), $"must be at least 1, not {Repetitions}.");
        if ((long)PromptLength + Tokens > maxPositions)
            throw new NnlArgumentException(nameof(PromptLength), $"{PromptLength} prompt tokens + {Tokens} generated exceed the model's context of {maxPositions}.");
    }
}

/// <summary>What one benchmark point measured (milliseconds per pass; offload statistics summed over decode steps).</summary>
/// <param name="Pipelined">Decode ran through the runner's <see cref="IGreedyDecodePipeline"/> (step times are intervals between tokens).</param>
public sealed record BenchmarkMeasurement(
    IReadOnlyList<double> PrefillMilliseconds,
    IReadOnlyList<double> DecodeStepMilliseconds,
    NnlOffloadStatistics? DecodeStatistics,
    NnlOffloadStatistics? AllStatistics,
    bool Pipelined = false)
{
    public static double Median(IReadOnlyList<double> values) => SampleStatistics.Median(values);
}

/// <summary>
/// Runs the benchmark workload on a runner: random prompts (seeded), one prefill pass, then greedy
/// decode steps for a fixed number of tokens — end-of-sequence ids are ignored, so every
/// repetition does the same work. Each pass is timed on the host around <see cref="IModelRunner.Forward"/>,
/// which returns only when the logits are on the host; where the runner has a greedy pipeline
/// (<see cref="IModelRunner.CreateGreedyPipeline"/>) a step is the interval between two steps' ids
/// reaching the host, the next step always queued before.
/// </summary>
public static class InferenceBenchmark
{
    /// <param name="onRepetition">Called before each repetition (warm-ups first) with (index, total).</param>
    public static BenchmarkMeasurement Run(IModelRunner runner, BenchmarkWorkload work, CancellationToken cancellation = default,
        Action<int, int>? onRepetition = null)
    {
        var config = runner.Table.Config;
        work.Validate(config.MaxPositions);
        var random = new Random(work.Seed);
        var prompts = new int[work.BatchSize][];
        for (var s = 0; s < work.BatchSize; s++)
            prompts[s] = Enumerable.Range(0, work.PromptLength).Select(_ => random.Next(config.VocabSize)).ToArray();

        var prefill = new List<double>();
        var steps = new List<double>();
        NnlOffloadStatistics? decodeStats = null, allStats = null;
        var pipelined = false;
        var total = work.Warmup + work.Repetitions;
        for (var rep = 0; rep < total; rep++)
        {
            cancellation.ThrowIfCancellationRequested();
            onRepetition?.Invoke(rep, total);
            var measured = rep >= work.Warmup;
            using var cache = runner.CreateKvCache(work.BatchSize, work.PromptLength + work.Tokens);
            runner.TakeStatistics(); // start from zero

            var clock = Stopwatch.StartNew();
            var logits = runner.Forward(PrefillBatch(prompts), cache, cancellation);
            var prefillMs = clock.Elapsed.TotalMilliseconds;
            var stats = runner.TakeStatistics();
            if (measured)
            {
                prefill.Add(prefillMs);
                allStats = NnlOffloadStatistics.Sum(allStats, stats);
            }

            var next = Argmax(logits, work.BatchSize, config.VocabSize);
            using var pipeline = runner.CreateGreedyPipeline(cache);
            pipelined = pipeline is not null;
            void Step(double ms, NnlOffloadStatistics? stepStats)
            {
                if (!measured) return;
                steps.Add(ms);
                decodeStats = NnlOffloadStatistics.Sum(decodeStats, stepStats);
                allStats = NnlOffloadStatistics.Sum(allStats, stepStats);
            }
            if (pipeline is not null)
            {
                // Step s + 1 is queued before step s's ids come back; a step's time is the interval
                // between two steps' ids reaching the host (the first: from its own queuing).
                clock.Restart();
                pipeline.Enqueue(DecodeBatch(next, work.PromptLength), idsFromDevice: false, cancellation);
                for (var step = 0; step < work.DecodeSteps; step++)
                {
                    cancellation.ThrowIfCancellationRequested();
                    if (step + 1 < work.DecodeSteps)
                        pipeline.Enqueue(DecodeBatch(new int[work.BatchSize], work.PromptLength + step + 1), idsFromDevice: true, cancellation);
                    next = pipeline.Take();
                    Step(clock.Elapsed.TotalMilliseconds, runner.TakeStatistics());
                    clock.Restart();
                }
                continue;
            }
            for (var step = 0; step < work.DecodeSteps; step++)
            {
                cancellation.ThrowIfCancellationRequested();
                clock.Restart();
                logits = runner.Forward(DecodeBatch(next, work.PromptLength + step), cache, cancellation);
                var ms = clock.Elapsed.TotalMilliseconds;
                Step(ms, runner.TakeStatistics());
                next = Argmax(logits, work.BatchSize, config.VocabSize);
            }
        }
        return new BenchmarkMeasurement(prefill, steps, decodeStats, allStats, pipelined);
    }

    /// <summary>One decode row per sequence (slot s, output row s), every row at <paramref name="position"/>.</summary>
    private static TokenBatch DecodeBatch(int[] ids, int position)
    {
        var rows = Enumerable.Range(0, ids.Length).ToArray();
        return new TokenBatch(ids, Enumerable.Repeat(position, ids.Length).ToArray(), rows, rows);
    }

    private static TokenBatch PrefillBatch(int[][] prompts)
    {
        var n = prompts.Sum(p => p.Length);
        var ids = new int[n];
        var positions = new int[n];
        var slots = new int[n];
        var outputs = new int[prompts.Length];
        var r = 0;
        for (var s = 0; s < prompts.Length; s++)
        {
            for (var t = 0; t < prompts[s].Length; t++, r++)
            {
                ids[r] = prompts[s][t];
                positions[r] = t;
                slots[r] = s;
            }
            outputs[s] = r - 1;
        }
        return new TokenBatch(ids, positions, slots, outputs);
    }

    private static int[] Argmax(float[] logits, int rows, int vocab)
    {
        var ids = new int[rows];
        for (var r = 0; r < rows; r++)
        {
            var span = new ReadOnlySpan<float>(logits, r * vocab, vocab);
            var best = 0;
            for (var i = 1; i < span.Length; i++)
                if (span[i] > span[best]) best = i;
            ids[r] = best;
        }
        return ids;
    }

    /// <summary>The record of one point from what was measured.</summary>
    public static NnlInferenceBenchmark ToRecord(string model, IModelRunner runner, ModelLoadRequest request, BenchmarkWorkload work,
        BenchmarkMeasurement m, double loadSeconds)
    {
        var table = runner.Table;
        var stepMedian = BenchmarkMeasurement.Median(m.DecodeStepMilliseconds);
        var prefillMedian = BenchmarkMeasurement.Median(m.PrefillMilliseconds);
        var stats = m.DecodeStatistics;
        var steps = m.DecodeStepMilliseconds.Count;
        long? perToken = stats is null || steps == 0 ? null : stats.StreamedBytes / steps;
        double? bound = perToken is { } b && stats!.PinnedHostToDeviceGBps > 0 ? b / (stats.PinnedHostToDeviceGBps * 1e6) : null;
        var graphs = runner is Runtime.Offload.OffloadRunner { UsesCudaGraphs: true } o ? o.GraphStatistics : null;
        return new NnlInferenceBenchmark
        {
            Model = model,
            Device = runner.Device,
            // What the offload plan used (the budget "all free memory" resolves to); as asked on the CPU.
            BudgetBytes = runner is Runtime.Offload.OffloadRunner ob ? ob.Plan.BudgetBytes : request.MaxGpuMemoryBytes,
            PrefetchDepth = runner is Runtime.Offload.OffloadRunner op ? op.Plan.Options.PrefetchDepth : request.PrefetchDepth,
            BatchSize = work.BatchSize,
            PromptLength = work.PromptLength,
            Tokens = work.Tokens,
            Repetitions = work.Repetitions,
            // The offload plan says what stays on the GPU; a runner that streams nothing holds every node.
            ResidentNodes = runner switch
            {
                IResidencyReport r => r.ResidentNodes,
                _ when stats is null => table.Count,
                _ => null,
            },
            Nodes = table.Count,
            WeightBytes = table.WeightBytes,
            StreamedBytesPerToken = perToken,
            PrefillTokensPerSecond = prefillMedian > 0 ? work.BatchSize * work.PromptLength * 1000.0 / prefillMedian : 0,
            DecodeMillisecondsPerTokenMedian = stepMedian,
            DecodeMillisecondsPerTokenMin = m.DecodeStepMilliseconds.Min(),
            DecodeMillisecondsPerTokenMax = m.DecodeStepMilliseconds.Max(),
            DecodeMillisecondsPerTokenMean = m.DecodeStepMilliseconds.Average(),
            DecodeTokensPerSecond = stepMedian > 0 ? work.BatchSize * 1000.0 / stepMedian : 0,
            BoundMillisecondsPerToken = bound,
            // Nothing streamed (fully resident): no floor to compare against.
            Efficiency = bound is > 0 && stepMedian > 0 ? bound / stepMedian : null,
            PcieGBps = stats is { TransferMilliseconds: > 0 } ? stats.StreamedBytes / (stats.TransferMilliseconds * 1e6) : null,
            PeakGpuMemoryBytes = m.AllStatistics?.PeakGpuMemoryBytes,
            DiskGBps = stats is { DiskMilliseconds: > 0 } ? stats.DiskBytes / (stats.DiskMilliseconds * 1e6) : null,
            LoadSeconds = loadSeconds,
            GreedyPipeline = m.Pipelined,
            CudaGraphReplays = graphs?.Replays,
            CudaGraphNodeUpdates = graphs?.NodeUpdates,
            CudaGraphFallbacks = graphs?.Fallbacks,
            CudaGraphHostMillisecondsPerStep = graphs is { Replays: > 0 } g ? g.LastHostMilliseconds : null,
            CudaGraphGpuMillisecondsPerStep = graphs?.Timing?.GpuMilliseconds,
            CudaGraphIdleInStepMilliseconds = graphs?.Timing?.IdleInStepMilliseconds,
            CudaGraphIdleBetweenStepsMilliseconds = graphs?.Timing is { IdleBetweenStepsMilliseconds: var between } && !double.IsNaN(between) ? between : null,
        };
    }
}
