using System.Diagnostics;
using Nnl.Engine.Cuda;
using Nnl.Engine.Models;

namespace Nnl.Engine.Runtime.Offload;

/// <summary>
/// Streams nodes from the safetensors files when host memory cannot hold them: a reader thread
/// reads the streamed nodes, in pipeline order and cyclically, into a ring of pinned staging
/// buffers (disk → pinned), and the pipeline copies each staged node to the GPU (pinned → GPU).
/// A staging buffer is refilled only once the copy out of it has finished (its event).
/// </summary>
public sealed unsafe class DiskNodeReader : IDisposable
{
    private sealed class Slot
    {
        public required HostBuffer Buffer;
        public int NodeIndex = -1;
        public CudaEvent? CopiedOut;   // the GPU copy that reads this slot; null while the host owns it
        public bool Ready;
    }

    private readonly OffloadPlan _plan;
    private readonly IWeightSource _source;
    private readonly int[] _order;          // streamed node indexes in pipeline order
    private readonly Slot[] _slots;
    private readonly object _gate = new();
    private Thread? _thread;
    private volatile bool _stop;
    private int _readPosition;             // next position in _order the reader fills
    private int _consumePosition;          // next position the pipeline takes
    private Exception? _failure;
    private long _bytesRead;
    private long _readTicks;

    public DiskNodeReader(CudaContext context, OffloadPlan plan, IWeightSource source, int stagingBuffers)
    {
        _plan = plan;
        _source = source;
        _order = plan.StreamedLayouts.Where(l => l is not null).Select(l => l!.Node.Index).ToArray();
        if (_order.Length == 0) throw new InvalidOperationException("Nothing streams: no disk reader needed.");
        Context = context;
        _slots = new Slot[Math.Max(2, stagingBuffers)];
        try
        {
            for (int i = 0; i < _slots.Length; i++)
                _slots[i] = new Slot { Buffer = new HostBuffer(context, plan.LargestStreamedNodeBytes, HostMemoryKind.Pinned) };
        }
        catch
        {
            Dispose();
            throw;
        }
        Start(0);
    }

    public CudaContext Context { get; }
    public long StagingBytes => _slots.Where(s => s is not null).Sum(s => s.Buffer.Bytes);

    /// <summary>Bytes read from disk and the time the reader spent reading them, since the last call.</summary>
    public (long Bytes, double Milliseconds) TakeDiskStatistics()
    {
        long bytes = Interlocked.Exchange(ref _bytesRead, 0);
        long ticks = Interlocked.Exchange(ref _readTicks, 0);
        return (bytes, ticks * 1000.0 / Stopwatch.Frequency);
    }

    /// <summary>
    /// The staged copy of <paramref name="nodeIndex"/>, waiting for the reader if needed. The caller
    /// queues its GPU copy and then calls <see cref="Release"/> with the event that marks the copy's end.
    /// </summary>
    public HostBuffer Take(int nodeIndex, CancellationToken cancellation)
    {
        lock (_gate)
        {
            if (_order[_consumePosition % _order.Length] != nodeIndex)
                throw new InvalidOperationException($"disk reader out of order: expected node {_order[_consumePosition % _order.Length]}, asked for {nodeIndex}");
            var slot = _slots[_consumePosition % _slots.Length];
            while (!(slot.Ready && slot.NodeIndex == nodeIndex))
            {
                if (_failure is not null) throw new NnlModelFormatException(_plan.Table.Nodes[nodeIndex].Weights[0].Tensor.FilePath, "reading streamed weights failed: " + _failure.Message, inner: _failure);
                cancellation.ThrowIfCancellationRequested();
                Monitor.Wait(_gate, 50);
            }
            return slot.Buffer;
        }
    }

    /// <summary>The GPU copy out of the slot holding <paramref name="nodeIndex"/> is queued; the slot is free once <paramref name="copied"/> completes.</summary>
    public void Release(int nodeIndex, CudaEvent copied)
    {
        lock (_gate)
        {
            var slot = _slots[_consumePosition % _slots.Length];
            slot.CopiedOut = copied;
            slot.Ready = false;
            _consumePosition++;
            Monitor.PulseAll(_gate);
        }
    }

    /// <summary>Restarts reading at <paramref name="nodeIndex"/> (after a cancelled or failed pass).</summary>
    public void Restart(int nodeIndex)
    {
        Stop();
        int position = Array.IndexOf(_order, nodeIndex);
        Start(position < 0 ? 0 : position);
    }

    private void Start(int position)
    {
        _stop = false;
        _failure = null;
        _readPosition = position;
        _consumePosition = position;
        foreach (var s in _slots) { s.Ready = false; s.NodeIndex = -1; }
        _thread = new Thread(ReadLoop) { IsBackground = true, Name = "Nnl disk reader" };
        _thread.Start();
    }

    private void Stop()
    {
        _stop = true;
        lock (_gate) Monitor.PulseAll(_gate);
        _thread?.Join();
        _thread = null;
        foreach (var s in _slots)
        {
            s.CopiedOut?.Synchronize(); // a copy may still read the slot
            s.CopiedOut = null;
        }
    }

    private void ReadLoop()
    {
        try
        {
            while (!_stop)
            {
                Slot slot;
                CudaEvent? pending;
                lock (_gate)
                {
                    // Stay at most one ring ahead of the consumer.
                    while (!_stop && _readPosition - _consumePosition >= _slots.Length) Monitor.Wait(_gate, 50);
                    if (_stop) return;
                    slot = _slots[_readPosition % _slots.Length];
                    pending = slot.CopiedOut;
                }
                pending?.Synchronize(); // the GPU has finished reading the slot's previous node
                var layout = _plan.StreamedLayouts[_order[_readPosition % _order.Length]]!;
                long start = Stopwatch.GetTimestamp();
                // Tensors of a node read in parallel: one positioned read per tensor keeps several requests in flight.
                Parallel.ForEach(layout.Tensors, new ParallelOptions { MaxDegreeOfParallelism = 4 },
                    t => _source.CopyTo(t, (byte*)slot.Buffer.Pointer + layout.Offsets[t.Name]));
                Interlocked.Add(ref _readTicks, Stopwatch.GetTimestamp() - start);
                Interlocked.Add(ref _bytesRead, layout.PayloadBytes);
                lock (_gate)
                {
                    slot.CopiedOut = null;
                    slot.NodeIndex = layout.Node.Index;
                    slot.Ready = true;
                    _readPosition++;
                    Monitor.PulseAll(_gate);
                }
            }
        }
        catch (Exception e)
        {
            lock (_gate)
            {
                _failure = e;
                Monitor.PulseAll(_gate);
            }
        }
    }

    public void Dispose()
    {
        if (_thread is not null) Stop();
        foreach (var s in _slots) s?.Buffer.Dispose();
    }
}
