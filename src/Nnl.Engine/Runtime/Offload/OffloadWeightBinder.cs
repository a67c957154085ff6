using Nnl.Engine.Cuda;
using Nnl.Engine.Memory;
using Nnl.Engine.Models;
using Nnl.Engine.Runtime.Cuda;

namespace Nnl.Engine.Runtime.Offload;

/// <summary>
/// The layer pipeline. For node i of the computation table: the compute stream waits for node i's
/// weights (an event, never the host), computes i; meanwhile the copy stream brings in nodes
/// i+1..i+d (d = prefetch depth) into blocks from the pool; when i is queued, its block returns to
/// the pool and the next node's copy is queued behind an event that marks i's end, so no copy
/// overwrites memory a queued kernel still reads. Prefetch runs on across passes (the first nodes
/// of the next token copy while the last ones of this token compute); <see cref="Quiesce"/> drops
/// what was fetched ahead when generation ends.
/// </summary>
public sealed class OffloadWeightBinder : IWeightBinder, IDisposable
{
    private sealed class InFlight
    {
        public required int NodeIndex;
        public required PoolAllocation Block;
        public required CudaEvent Copied;
    }

    private readonly OffloadPlan _plan;
    private readonly CudaBackend _backend;
    private readonly DeviceMemoryPool _pool;
    private readonly PinnedWeightStore _host;
    private readonly DiskNodeReader? _disk;
    private readonly EventTimings _timings;
    private readonly Dictionary<string, BackendTensor> _fixed = new(StringComparer.Ordinal); // resident and host-mapped
    private readonly List<PoolAllocation> _residentBlocks = new();
    private readonly int[] _order;                 // streamed node indexes in pipeline order
    private readonly Queue<InFlight> _inFlight = new();
    private readonly NodeWeights?[] _fixedNodes;
    private int _nextPrefetch;                     // position in _order of the next node to fetch
    private CancellationToken _cancellation;

    // Statistics since the last TakeStatistics.
    private long _streamedBytes;
    private double _transferMs, _waitMs;

    public OffloadWeightBinder(OffloadPlan plan, CudaBackend backend, DeviceMemoryPool pool, PinnedWeightStore host,
        DiskNodeReader? disk, IWeightSource source, Action<long, long>? progress = null, CancellationToken cancellation = default)
    {
        _plan = plan;
        _backend = backend;
        _pool = pool;
        _host = host;
        _disk = disk;
        _timings = new EventTimings(backend.Context);
        CopyStream = new CudaStream(backend.Context);
        _order = plan.StreamedLayouts.Where(l => l is not null).Select(l => l!.Node.Index).ToArray();
        try
        {
            UploadResident(source, progress, cancellation);
            foreach (var t in plan.TensorsPlaced(WeightPlacement.HostMapped))
                _fixed[t.Name] = backend.WrapDeviceMemory(t, host.MappedDevicePointer(t));
        }
        catch
        {
            Dispose();
            throw;
        }
        _fixedNodes = plan.Table.Nodes.Select(n => plan.StreamedLayouts[n.Index] is null ? Bind(n, null) : null).ToArray();
    }

    public CudaStream CopyStream { get; }
    public CudaStream ComputeStream => _backend.Stream;

    /// <summary>Observed by waits on the disk reader (set per pass by the runner).</summary>
    public CancellationToken Cancellation { set => _cancellation = value; }

    public NodeWeights Acquire(ComputationNode node)
    {
        if (_fixedNodes[node.Index] is { } fixedWeights) return fixedWeights;
        // A pass that did not start where the pipeline expects (the first pass, or one after a
        // cancelled pass): start the pipeline over from this node.
        if (_inFlight.Count == 0 || _inFlight.Peek().NodeIndex != node.Index) Restart(node.Index);
        var flight = _inFlight.Peek();
        // Streamed bytes count for the pass that consumes them (copies may run a pass ahead).
        _streamedBytes += _plan.StreamedLayouts[node.Index]!.PayloadBytes;
        var ready = _timings.Rent();
        var started = _timings.Rent();
        ready.Record(ComputeStream);
        ComputeStream.Wait(flight.Copied);
        started.Record(ComputeStream);
        _timings.Measure(ready, started, ms => _waitMs += ms);
        return Bind(node, flight.Block.DevicePointer);
    }

    public void Release(ComputationNode node, NodeWeights weights)
    {
        if (_plan.StreamedLayouts[node.Index] is null) return;
        var flight = _inFlight.Dequeue();
        // Every kernel of this node is queued: the copy stream may reuse its block after this event.
        var done = _timings.Rent();
        done.Record(ComputeStream);
        CopyStream.Wait(done);
        _timings.Return(done); // the wait captured it; re-recording later does not change this wait
        _pool.Free(flight.Block);
        _timings.Return(flight.Copied);
        TopUp();
    }

    /// <summary>Drops the nodes fetched ahead (end of a generation, or before restarting the pipeline).</summary>
    public void Quiesce()
    {
        CopyStream.Synchronize();
        ComputeStream.Synchronize();
        while (_inFlight.TryDequeue(out var f))
        {
            _pool.Free(f.Block);
            _timings.Return(f.Copied);
        }
    }

    public NnlOffloadStatistics TakeStatistics(double computeMilliseconds, long peakGpuBytes, double pinnedGBps)
    {
        _timings.Harvest();
        var (diskBytes, diskMs) = _disk?.TakeDiskStatistics() ?? (0, 0);
        var s = new NnlOffloadStatistics(_streamedBytes, _transferMs, Math.Max(0, computeMilliseconds - _waitMs), _waitMs, peakGpuBytes, pinnedGBps, diskBytes, diskMs);
        _streamedBytes = 0;
        _transferMs = _waitMs = 0;
        return s;
    }

    private void Restart(int nodeIndex)
    {
        Quiesce();
        int position = Array.IndexOf(_order, nodeIndex);
        if (position < 0) throw new InvalidOperationException($"node {nodeIndex} does not stream");
        _nextPrefetch = position;
        _disk?.Restart(nodeIndex);
        TopUp();
    }

    /// <summary>Keeps PrefetchDepth + 1 nodes in flight: the one about to compute and d ahead.</summary>
    private void TopUp()
    {
        int depth = Math.Min(_plan.Options.PrefetchDepth + 1, _order.Length);
        while (_inFlight.Count < depth) Fetch(_order[_nextPrefetch++ % _order.Length]);
    }

    private void Fetch(int nodeIndex)
    {
        var layout = _plan.StreamedLayouts[nodeIndex]!;
        var block = _pool.Allocate(layout.Bytes, $"{layout.Node.Name} weights");
        var start = _timings.Rent();
        var end = _timings.Rent();
        var copied = _timings.Rent();
        try
        {
            HostBuffer source = _disk is null ? _host.Node(nodeIndex) : _disk.Take(nodeIndex, _cancellation);
            start.Record(CopyStream);
            CudaCopy.HostToDevice(block.DevicePointer, source.Pointer, layout.Bytes, CopyStream);
            end.Record(CopyStream);
            copied.Record(CopyStream);
            _disk?.Release(nodeIndex, copied);
        }
        catch
        {
            _pool.Free(block);
            throw;
        }
        _timings.Measure(start, end, ms => _transferMs += ms);
        _inFlight.Enqueue(new InFlight { NodeIndex = nodeIndex, Block = block, Copied = copied });
    }

    private NodeWeights Bind(ComputationNode node, ulong? streamedBase)
    {
        var layout = _plan.StreamedLayouts[node.Index];
        var byRole = new Dictionary<string, BackendTensor>();
        foreach (var w in node.Weights)
        {
            if (layout is not null && streamedBase is ulong b && layout.Offsets.TryGetValue(w.Tensor.Name, out long offset))
                byRole[w.Role] = _backend.WrapDeviceMemory(w.Tensor, b + (ulong)offset);
            else
                byRole[w.Role] = _fixed[w.Tensor.Name];
        }
        return new NodeWeights(node, byRole);
    }

    /// <summary>Resident weights stored transposed (Conv1D as nn.Linear, <see cref="OffloadOptions.TransposeConv1DWeights"/>).</summary>
    public int TransposedWeightCount { get; private set; }

    /// <summary>
    /// Resident weights: packed per node through one pinned staging buffer, one pool block per
    /// tensor. Conv1D weights pass through a device buffer and a transpose kernel on the way.
    /// </summary>
    private unsafe void UploadResident(IWeightSource source, Action<long, long>? progress, CancellationToken cancellation)
    {
        var tensors = _plan.TensorsPlaced(WeightPlacement.Resident).ToList();
        if (tensors.Count == 0) return;
        var transpose = _plan.Options.TransposeConv1DWeights ? Conv1DWeights(_plan.Table) : new HashSet<string>();
        transpose.IntersectWith(tensors.Where(t => t.Shape.Length == 2).Select(t => t.Name));
        long largest = tensors.Max(t => t.ByteCount);
        long total = tensors.Sum(t => t.ByteCount), done = 0;
        using var staging = new HostBuffer(_backend.Context, largest, HostMemoryKind.Pinned);
        var transposeBuffer = TransposeBuffer(tensors.Where(t => transpose.Contains(t.Name)));
        try
        {
            foreach (var t in tensors)
            {
                cancellation.ThrowIfCancellationRequested();
                var block = _pool.Allocate(t.ByteCount, $"{t.Name} (resident)");
                _residentBlocks.Add(block);
                source.CopyTo(t, (byte*)staging.Pointer);
                bool transposed = transposeBuffer is not null && transpose.Contains(t.Name);
                if (transposed)
                {
                    CudaCopy.HostToDevice(transposeBuffer!.DevicePointer, staging.Pointer, t.ByteCount, CopyStream);
                    Transpose(t, transposeBuffer.DevicePointer, block.DevicePointer);
                    TransposedWeightCount++;
                }
                else
                {
                    CudaCopy.HostToDevice(block.DevicePointer, staging.Pointer, t.ByteCount, CopyStream);
                }
                CopyStream.Synchronize(); // the staging buffer is refilled next
                _fixed[t.Name] = _backend.WrapDeviceMemory(t, block.DevicePointer, transposed);
                // Resident: nothing writes it until the model is unloaded, so the backend may keep constants
                // derived from it (the norm fold's, a little pool memory). Only in a fully resident plan:
                // with streamed nodes that memory belongs to their buffers, and the step is PCIe-bound anyway.
                if (_plan.IsFullyResident) _backend.DeclareConstant(_fixed[t.Name]);
                done += t.ByteCount;
                progress?.Invoke(done, total);
            }
        }
        finally
        {
            if (transposeBuffer is not null) _pool.Free(transposeBuffer);
        }
    }

    /// <summary>Names of the weights some node multiplies in the Conv1D layout.</summary>
    private static HashSet<string> Conv1DWeights(ComputationTable table) =>
        table.Nodes.SelectMany(n => n.Weights).Where(w => w.ProductLayout == WeightLayout.Conv1D).Select(w => w.Tensor.Name).ToHashSet(StringComparer.Ordinal);

    /// <summary>
    /// Room for the largest weight to transpose, or null (then every weight keeps its layout) when
    /// there is none or the budget has no room for it: the planner's margin usually does.
    /// </summary>
    private PoolAllocation? TransposeBuffer(IEnumerable<TensorInfo> tensors)
    {
        long bytes = tensors.Select(t => t.ByteCount).DefaultIfEmpty(0).Max();
        if (bytes == 0) return null;
        try { return _pool.Allocate(bytes, "transpose staging"); }
        catch (NnlOutOfMemoryException) { return null; }
    }

    /// <summary>[in, out] at <paramref name="source"/> → [out, in] at <paramref name="destination"/>, on the copy stream.</summary>
    private void Transpose(TensorInfo t, ulong source, ulong destination)
    {
        var kernel = KernelLibrary.Kernel(_backend.Context, "transpose", t.DType.ElementBytes() == 4 ? "nnl_transpose_f32" : "nnl_transpose_u16");
        int rows = checked((int)t.Shape[0]), cols = checked((int)t.Shape[1]);
        uint tilesX = (uint)Math.Min((cols + 31) / 32, 65535), tilesY = (uint)Math.Min((rows + 31) / 32, 65535);
        kernel.Launch(CopyStream, (tilesX, tilesY, 1), (32, 8, 1), 0, source, destination, rows, cols);
    }

    public void Dispose()
    {
        try { Quiesce(); } catch (NnlException) { }
        // Released first: the backend forgets what it derived from them (DeclareConstant) before the memory goes.
        foreach (var t in _fixed.Values) _backend.Release(t);
        foreach (var b in _residentBlocks) _pool.Free(b);
        _residentBlocks.Clear();
        _fixed.Clear();
        _timings.Dispose();
        CopyStream.Dispose();
    }
}
