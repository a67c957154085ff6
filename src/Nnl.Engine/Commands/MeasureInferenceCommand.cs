using System.Diagnostics;
using Nnl.Engine.Benchmarks;
using Nnl.Engine.Generation;
using Nnl.Engine.Models;
using Nnl.Engine.Models.Synthetic;

namespace Nnl.Engine.Commands;

/// <summary>
/// Measure-NnlInference / `nnl bench`: loads a model (a directory, or a preset written to a
/// temporary directory or generated in memory) through the same loader as Import-NnlModel, once
/// per memory budget and prefetch depth, and times prefill and decode for every batch size, prompt
/// length and token count asked. One <see cref="NnlInferenceBenchmark"/> per point, written as soon
/// as it is measured; optionally an SVG chart of time per token against budget.
/// </summary>
public sealed class MeasureInferenceCommand : INnlCommand
{
    private const int ActivityId = 7101, LoadActivityId = 7102;

    /// <summary>A model directory.</summary>
    public string? Path { get; init; }

    /// <summary>A preset to generate (see New-NnlModel); with <see cref="Layers"/>, <see cref="DType"/>, <see cref="Seed"/>.</summary>
    public string? Preset { get; init; }
    public int? Layers { get; init; }
    public string DType { get; init; } = "fp16";
    public int Seed { get; init; }

    /// <summary>Generate the preset in host memory instead of a temporary directory.</summary>
    public bool InMemory { get; init; }

    public string Device { get; init; } = "Cpu";

    /// <summary>Budgets to sweep (null or empty: one point with all free GPU memory).</summary>
    public IReadOnlyList<long>? MaxGpuMemory { get; init; }

    public IReadOnlyList<int>? PrefetchDepth { get; init; }
    public IReadOnlyList<int> BatchSize { get; init; } = new[] { 1 };
    public IReadOnlyList<int> PromptLength { get; init; } = new[] { 32 };

    /// <summary>Tokens generated per sequence (the first comes from the prefill).</summary>
    public IReadOnlyList<int> Tokens { get; init; } = new[] { 16 };

    /// <summary>False: stream from the files (disk → pinned staging → GPU) instead of a pinned host cache.</summary>
    public bool HostCache { get; init; } = true;

    /// <summary>False: launch the decode kernels one by one instead of replaying fully resident steps as CUDA graphs. GPU only.</summary>
    public bool UseCudaGraphs { get; init; } = true;

    /// <summary>The GPU KV cache's element type: fp16, bf16 or fp32; null = the weights' type.</summary>
    public string? KvCacheType { get; init; }

    public int Warmup { get; init; } = 1;
    public int Repetitions { get; init; } = 3;

    /// <summary>Write an SVG chart of the sweep here.</summary>
    public string? ChartPath { get; init; }

    public int? Threads { get; init; }

    /// <summary>Free-space oracle for the temporary directory a preset is written to.</summary>
    public IFreeSpaceProvider FreeSpace { get; init; } = DriveFreeSpaceProvider.Instance;

    /// <summary>Where the temporary preset directory goes (default: the system's temp directory).</summary>
    public string? TempRoot { get; init; }

    public void Execute(ICommandSink sink)
    {
        Validate();
        var budgets = MaxGpuMemory is { Count: > 0 } ? MaxGpuMemory.Select(b => (long?)b).ToArray() : new long?[] { null };
        var depths = PrefetchDepth is { Count: > 0 } ? PrefetchDepth.Select(d => (int?)d).ToArray() : new int?[] { null };
        var device = Runtime.DeviceSpec.Parse(Device);
        if (device.IsCpu && (MaxGpuMemory is { Count: > 0 } || PrefetchDepth is { Count: > 0 }))
            sink.WriteWarning("The CPU keeps every weight in memory: -MaxGpuMemory and -PrefetchDepth change nothing there; each point is measured anyway.");
        var workloads = (from b in BatchSize from p in PromptLength from t in Tokens select new BenchmarkWorkload(b, p, t, Warmup, Repetitions, Seed)).ToArray();
        var total = budgets.Length * depths.Length * workloads.Length;

        string? tempDirectory = null;
        WeightCatalog? memoryWeights = null;
        var records = new List<NnlInferenceBenchmark>();
        try
        {
            var (baseRequest, name) = Source(sink, device.IsCpu, ref tempDirectory, ref memoryWeights);
            var point = 0;
            foreach (var budget in budgets)
            foreach (var depth in depths)
            {
                sink.Cancellation.ThrowIfCancellationRequested();
                var request = baseRequest with
                {
                    MaxGpuMemoryBytes = budget,
                    PrefetchDepth = depth,
                    BatchSize = BatchSize.Max(),
                    ContextLength = PromptLength.Max() + Tokens.Max(),
                    MaxPrefillRows = BatchSize.Max() * PromptLength.Max(),
                    HostCache = HostCache,
                    UseCudaGraphs = UseCudaGraphs,
                    KvCacheType = KvCacheType is null ? null : Models.Synthetic.DTypeNames.Parse(KvCacheType, nameof(KvCacheType)),
                };
                var what = Describe(budget, depth);
                sink.WriteProgress(new NnlProgress(ActivityId, $"Measure-NnlInference {name}", $"Loading {what}", point * 100 / total));
                var clock = Stopwatch.StartNew();
                LoadedModel model;
                try
                {
                    var lastStage = "";
                    model = ModelLoader.Load(request, (stage, done, all) =>
                    {
                        if (stage == lastStage && done != all) return;
                        lastStage = stage;
                        sink.WriteProgress(new NnlProgress(LoadActivityId, $"Loading {name}", stage, all == 0 ? 100 : (int)(done * 100 / all), ParentActivityId: ActivityId));
                    }, sink.Cancellation);
                }
                catch (NnlException e) when (budget is not null && (e is Memory.NnlOutOfMemoryException || e is NnlArgumentException { ParameterName: "MaxGpuMemory" }))
                {
                    // One budget too small (or too large) for this GPU fails that point, not the sweep.
                    sink.WriteWarning($"{what}: {e.Message}");
                    point += workloads.Length;
                    continue;
                }
                finally
                {
                    sink.WriteProgress(new NnlProgress(LoadActivityId, $"Loading {name}", "Done", 100, Completed: true, ParentActivityId: ActivityId));
                }
                var loadSeconds = clock.Elapsed.TotalSeconds;
                using (model)
                {
                    foreach (var work in workloads)
                    {
                        var status = $"{what}, batch {work.BatchSize}, prompt {work.PromptLength}, {work.Tokens} tokens";
                        var at = point;
                        var measurement = InferenceBenchmark.Run(model.Runner, work, sink.Cancellation, (rep, reps) =>
                            sink.WriteProgress(new NnlProgress(ActivityId, $"Measure-NnlInference {name}",
                                $"Point {at + 1} of {total}: {status}", (at * reps + rep) * 100 / (total * reps),
                                rep < work.Warmup ? "warm-up" : $"repetition {rep - work.Warmup + 1} of {work.Repetitions}")));
                        var record = InferenceBenchmark.ToRecord(name, model.Runner, request, work, measurement, loadSeconds);
                        records.Add(record);
                        sink.WriteRecord(record);
                        point++;
                    }
                }
            }
            if (ChartPath is { Length: > 0 } chart && records.Count > 0)
            {
                var full = System.IO.Path.GetFullPath(chart);
                InferenceChart.Write(records, full);
                sink.WriteVerbose($"Chart written to {full}.");
            }
        }
        finally
        {
            memoryWeights?.Dispose();
            if (tempDirectory is not null)
                try { Directory.Delete(tempDirectory, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            sink.WriteProgress(new NnlProgress(ActivityId, "Measure-NnlInference", "Done", 100, Completed: true));
        }
    }

    private void Validate()
    {
        var hasPath = !string.IsNullOrWhiteSpace(Path);
        var hasPreset = !string.IsNullOrWhiteSpace(Preset);
        if (hasPath == hasPreset) throw new NnlArgumentException(hasPath ? "Preset" : "Path", "Give either a model directory (-Path) or a -Preset.");
        if (KvCacheType is not null) Models.Synthetic.DTypeNames.Parse(KvCacheType, nameof(KvCacheType));
        if (hasPath && (InMemory || Layers is not null)) throw new NnlArgumentException(InMemory ? "InMemory" : "Layers", "applies to -Preset only.");
        if (Warmup < 0) throw new NnlArgumentException(nameof(Warmup), $"must be 0 or more, not {Warmup}.");
        if (Repetitions < 1) throw new NnlArgumentException(nameof(Repetitions), $"must be at least 1, not {Repetitions}.");
        if (BatchSize is not { Count: > 0 } || PromptLength is not { Count: > 0 } || Tokens is not { Count: > 0 })
            throw new NnlArgumentException("BatchSize", "-BatchSize, -PromptLength and -Tokens need at least one value each.");
        if (MaxGpuMemory?.Where(b => b <= 0).Select(b => (long?)b).FirstOrDefault() is { } bad)
            throw new NnlArgumentException(nameof(MaxGpuMemory), $"a budget must be positive, not {bad}.");
        if (PrefetchDepth?.Where(d => d < 1).Select(d => (int?)d).FirstOrDefault() is { } shallow)
            throw new NnlArgumentException(nameof(PrefetchDepth), $"must be at least 1, not {shallow}.");
    }

    /// <summary>The load request every point starts from, and the model's name for the records.</summary>
    private (ModelLoadRequest Request, string Name) Source(ICommandSink sink, bool cpu, ref string? tempDirectory, ref WeightCatalog? memoryWeights)
    {
        if (!string.IsNullOrWhiteSpace(Path))
        {
            var dir = System.IO.Path.GetFullPath(Path);
            if (!Directory.Exists(dir)) throw new NnlArgumentException(nameof(Path), $"'{dir}' is not a directory.");
            return (new ModelLoadRequest { Path = dir, Device = Device, Threads = Threads }, System.IO.Path.GetFileName(dir.TrimEnd(System.IO.Path.DirectorySeparatorChar)));
        }

        var model = SyntheticModel.FromPreset(Preset!, Layers, DTypeNames.Parse(DType), Seed);
        var name = model.Name + (Layers is { } l ? $" ({l} layers)" : "");
        if (InMemory)
        {
            // The CPU binds from host memory: generate once for the whole sweep. A GPU packs its
            // pinned buffers straight from the generator at every load, so nothing is kept here.
            if (cpu)
            {
                var generating = $"Generating {model.Name} in memory";
                memoryWeights = InMemoryModel.Generate(model, (done, all) =>
                    sink.WriteProgress(new NnlProgress(LoadActivityId, generating, $"{done >> 20} of {all >> 20} MiB", all == 0 ? 100 : (int)(done * 100 / all), ParentActivityId: ActivityId)),
                    sink.Cancellation);
                sink.WriteProgress(new NnlProgress(LoadActivityId, generating, "Done", 100, Completed: true, ParentActivityId: ActivityId));
            }
            return (new ModelLoadRequest
            {
                Synthetic = model,
                Weights = memoryWeights,
                Name = "memory:" + model.Name,
                Device = Device,
                Threads = Threads,
            }, name);
        }

        tempDirectory = System.IO.Path.Combine(TempRoot ?? System.IO.Path.GetTempPath(), $"nnl-bench-{model.Name}-{Guid.NewGuid():N}");
        var lastPercent = -1;
        var activity = $"Writing {model.Name} to {tempDirectory}";
        var progressWriter = new ModelDirectoryWriter
        {
            FreeSpace = FreeSpace,
            Progress = (done, all) =>
            {
                var percent = all == 0 ? 100 : (int)(done * 100 / all);
                if (percent == lastPercent) return;
                lastPercent = percent;
                sink.WriteProgress(new NnlProgress(LoadActivityId, activity, $"{done >> 20} of {all >> 20} MiB", percent, ParentActivityId: ActivityId));
            },
        };
        try
        {
            progressWriter.Write(model, tempDirectory, sink.Cancellation);
        }
        finally
        {
            sink.WriteProgress(new NnlProgress(LoadActivityId, activity, "Done", 100, Completed: true, ParentActivityId: ActivityId));
        }
        return (new ModelLoadRequest { Path = tempDirectory, Device = Device, Threads = Threads }, name);
    }

    private static string Describe(long? budget, int? depth) =>
        (budget is { } b ? $"budget {b / (double)(1L << 30):0.##} GiB" : "all free memory") + (depth is { } d ? $", prefetch {d}" : "");
}
