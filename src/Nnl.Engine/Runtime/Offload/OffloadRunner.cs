using Nnl.Engine.Models;
using Nnl.Engine.Cuda;
using Nnl.Engine.Memory;
using Nnl.Engine.Runtime.Cuda;

namespace Nnl.Engine.Runtime.Offload;

/// <summary>
/// Runs a model on a GPU under a memory budget: the <see cref="ComputationTable"/> executes node by
/// node on the CUDA backend while <see cref="OffloadWeightBinder"/> streams the weights the plan did
/// not keep resident. Same table, same architecture code as the CPU engine; only the binder differs.
/// </summary>
public sealed partial class OffloadRunner : IModelRunner, IResidencyReport, INodeLoopObserver
{
    private readonly ComputationTableRunner _inner;
    private readonly OffloadWeightBinder _binder;
    private readonly CudaBackend _backend;
    private readonly PoolDeviceAllocator _allocator;
    private readonly PinnedWeightStore _host;
    private readonly DiskNodeReader? _disk;
    private readonly IDisposable[] _owned;
    private readonly CudaEvent _passStart, _passEnd;
    private readonly long _previousBudget;
    private double _computeMs;
    private bool _graphStepOpen;
    private bool _pipelinedPass;               // a greedy pipeline's pass behind one in flight: recorded whole
    private GreedyPipeline.Slot[]? _idleSlots; // the last greedy pipeline's staging and events, for the next
    private bool _disposed;

    private OffloadRunner(OffloadPlan plan, DeviceMemoryPool pool, CudaBackend backend, PoolDeviceAllocator allocator,
        PinnedWeightStore host, DiskNodeReader? disk, OffloadWeightBinder binder, double pinnedGBps, long previousBudget, IDisposable[] owned)
    {
        _previousBudget = previousBudget;
        Plan = plan;
        Pool = pool;
        _backend = backend;
        _allocator = allocator;
        _host = host;
        _disk = disk;
        _binder = binder;
        PinnedHostToDeviceGBps = pinnedGBps;
        _owned = owned;
        _inner = new ComputationTableRunner(plan.Table, backend, binder);
        // Graphs replay only kernels on the one stream: a streamed node's cross-stream waits could not be recorded.
        UsesCudaGraphs = plan.Options.UseCudaGraphs && plan.IsFullyResident;
        if (UsesCudaGraphs) _inner.NodeLoop = this;
        _passStart = new CudaEvent(backend.Context);
        _passEnd = new CudaEvent(backend.Context);
    }

    public OffloadPlan Plan { get; }
    public DeviceMemoryPool Pool { get; }
    public double PinnedHostToDeviceGBps { get; }
    public ComputationTable Table => Plan.Table;
    public string Device => _backend.Name;
    public CudaBackend Backend => _backend;
    public long PinnedHostBytes => _host.PinnedBytes + (_disk?.StagingBytes ?? 0);

    public int ResidentNodes => Plan.ResidentNodeCount;

    /// <summary>True when decode steps replay as CUDA graphs (<see cref="OffloadOptions.UseCudaGraphs"/> and a fully resident plan).</summary>
    public bool UsesCudaGraphs { get; }

    /// <summary>Replays, node updates, rebuilds and fallbacks of the decode steps so far.</summary>
    public NnlCudaGraphStatistics GraphStatistics => _backend.GraphStatistics;
    public long ResidentWeightBytes => Plan.ResidentWeightBytes;

    /// <summary>Resident Conv1D weights stored as nn.Linear (<see cref="OffloadOptions.TransposeConv1DWeights"/>).</summary>
    public int TransposedWeightCount => _binder.TransposedWeightCount;

    /// <summary>
    /// Plans and builds the pipeline: measures pinned bandwidth, sets the pool's budget, packs the
    /// host cache (or starts the disk reader) and uploads the resident weights.
    /// <paramref name="progress"/> gets (stage, done, total) from the calling thread.
    /// </summary>
    public static OffloadRunner Create(ComputationTable table, IWeightSource source, OffloadOptions options,
        Action<string, long, long>? progress = null, CancellationToken cancellation = default, IEnumerable<IDisposable>? owned = null)
    {
        options.Validate();
        var context = CudaContext.ForDevice(options.Device);
        var pool = DeviceMemoryPool.ForDevice(options.Device);
        long free = context.MemoryInfo().FreeBytes + pool.Statistics().FreeBytes;
        long budget = options.MaxGpuMemoryBytes ?? free;
        if (budget > free + pool.Statistics().ReservedBytes)
            throw new NnlArgumentException("MaxGpuMemory", $"{budget / 1e9:F2} GB is more than the {free / 1e9:F2} GB free on cuda:{options.Device}");
        var plan = OffloadPlanner.Plan(table, options, budget);
        long previousBudget = pool.BudgetBytes;
        pool.BudgetBytes = budget;
        pool.ResetPeaks();

        progress?.Invoke("Measuring pinned host-to-device bandwidth", 0, 1);
        double gbps = PinnedBandwidthProbe.MeasureGBps(context);

        CudaBackend? backend = null;
        PoolDeviceAllocator? allocator = null;
        PinnedWeightStore? host = null;
        DiskNodeReader? disk = null;
        OffloadWeightBinder? binder = null;
        try
        {
            allocator = new PoolDeviceAllocator(pool);
            backend = new CudaBackend(context, null, allocator, options.UseCublas);
            host = new PinnedWeightStore(context, plan, source, includeStreamed: options.HostCache,
                (done, total) => progress?.Invoke(options.HostCache ? "Packing streamed weights into pinned memory" : "Packing embedding tables into pinned memory", done, total),
                cancellation);
            if (!options.HostCache && !plan.IsFullyResident)
                disk = new DiskNodeReader(context, plan, source, options.PrefetchDepth + 2);
            binder = new OffloadWeightBinder(plan, backend, pool, host, disk, source,
                (done, total) => progress?.Invoke("Uploading resident weights", done, total), cancellation);
            return new OffloadRunner(plan, pool, backend, allocator, host, disk, binder, gbps, previousBudget, (owned ?? []).ToArray());
        }
        catch
        {
            binder?.Dispose();
            disk?.Dispose();
            host?.Dispose();
            backend?.Dispose();
            allocator?.Dispose();
            pool.BudgetBytes = previousBudget;
            throw;
        }
    }

    public KvCache CreateKvCache(int slots, int capacity) => new(_backend, Plan.Options.KvCacheOf(Table), slots, capacity);

    public float[] Forward(TokenBatch batch, KvCache cache, CancellationToken cancellation = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _binder.Cancellation = cancellation;
        try
        {
            _passStart.Record(_backend.Stream);
            var logits = _inner.Forward(batch, cache, cancellation); // downloads the logits: the compute stream is done
            _passEnd.Record(_backend.Stream);
            _passEnd.Synchronize();
            _computeMs += _passEnd.ElapsedMillisecondsSince(_passStart);
            return logits;
        }
        catch
        {
            // Cancelled or failed mid-pass: drop the prefetched nodes so the pool holds what it held before.
            _binder.Quiesce();
            throw;
        }
    }

    public void Quiesce() => _binder.Quiesce();

    /// <summary>A decode-sized batch (GEMV products, split attention: Nnl's kernels only, no cuBLAS) is recorded.</summary>
    void INodeLoopObserver.NodesStarting(TokenBatch batch)
    {
        if (batch.RowCount > CudaBackend.GemvMaxRows) return;
        _backend.BeginGraphStep(wholeStep: _pipelinedPass);
        _graphStepOpen = true;
    }

    /// <summary>Each node's kernels go to the GPU as one graph segment while the host records the next node.</summary>
    void INodeLoopObserver.NodeFinished(int index)
    {
        if (_graphStepOpen) _backend.CutGraphStep();
    }

    /// <summary>Replays the step before the logits are downloaded; drops it when a node failed.</summary>
    void INodeLoopObserver.NodesFinished(bool completed)
    {
        if (!_graphStepOpen) return;
        _graphStepOpen = false;
        if (completed) _backend.EndGraphStep();
        else _backend.AbandonGraphStep();
    }

    public NnlOffloadStatistics? TakeStatistics()
    {
        var s = _binder.TakeStatistics(_computeMs, Pool.Statistics().PeakReservedBytes, PinnedHostToDeviceGBps);
        _computeMs = 0;
        return s;
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        // The disk reader waits on copy events the binder owns: stop it while they still exist.
        try { _binder.Quiesce(); } catch (NnlException) { }
        _disk?.Dispose();
        _binder.Dispose();
        foreach (var slot in _idleSlots ?? []) slot?.Dispose();
        _passStart.Dispose();
        _passEnd.Dispose();
        _backend.Dispose();
        _allocator.Dispose();
        _host.Dispose();
        for (int i = _owned.Length - 1; i >= 0; i--) _owned[i].Dispose();
        // The budget was this model's; give the device its own back.
        try { Pool.BudgetBytes = Math.Max(_previousBudget, Pool.BudgetBytes); } catch (NnlArgumentException) { }
    }
}
