using Nnl.Engine.Cuda;
using Nnl.Engine.Runtime.Cuda;

namespace Nnl.Engine.Runtime.Offload;

public sealed partial class OffloadRunner
{
    /// <summary>
    /// A greedy pipeline when every weight is resident and <see cref="OffloadOptions.PipelineGreedyDecode"/>
    /// is on (a streamed node's copies already overlap the step before; the host's turn between steps is
    /// what the pipeline removes, and it matters only where a step is short). Null otherwise.
    /// </summary>
    public IGreedyDecodePipeline? CreateGreedyPipeline(KvCache cache)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return Plan.IsFullyResident && Plan.Options.PipelineGreedyDecode ? new GreedyPipeline(this, cache) : null;
    }

    /// <summary>
    /// Up to <see cref="IGreedyDecodePipeline.MaxPending"/> steps in flight on the one compute stream. Each
    /// step: its batch copied from its own page-locked staging, the node loop (graph segments as in
    /// <see cref="Forward"/>), the argmax into one device id buffer that the next step's embedding reads,
    /// and those ids copied into the step's page-locked slot; events around it give the compute time.
    /// Stream order is the only synchronisation: the next step's embedding runs after this argmax, and
    /// the argmax after it after that embedding.
    /// </summary>
    private sealed class GreedyPipeline : IGreedyDecodePipeline
    {
        internal sealed class Slot(CudaContext context) : IDisposable
        {
            public readonly CudaEvent Start = new(context), Done = new(context);
            public HostBuffer? Staging, Ids;
            public int Capacity;          // rows the buffers hold
            public int Rows;              // rows of the step queued in this slot

            public void Dispose()
            {
                Start.Dispose();
                Done.Dispose();
                Staging?.Dispose();
                Ids?.Dispose();
            }
        }

        private readonly OffloadRunner _runner;
        private readonly KvCache _cache;
        private readonly Slot[] _slots;
        private DeviceAllocation? _deviceIds;
        private long _enqueued, _taken;
        private int _lastRows;            // rows of the last queued step (0: none yet, or it failed)
        private bool _disposed;

        public GreedyPipeline(OffloadRunner runner, KvCache cache)
        {
            _runner = runner;
            _cache = cache;
            // The last pipeline's slots if it left them: the driver takes long enough over page-locked
            // allocations and events (about 0.8 ms for two slots) to show in a generation's first step.
            _slots = runner._idleSlots ?? new Slot[IGreedyDecodePipeline.MaxPending];
            runner._idleSlots = null;
        }

        public int Pending => (int)(_enqueued - _taken);

        public unsafe void Enqueue(TokenBatch batch, bool idsFromDevice, CancellationToken cancellation = default)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (Pending >= IGreedyDecodePipeline.MaxPending)
                throw new InvalidOperationException($"{Pending} steps are queued already: take one first.");
            int rows = batch.RowCount;
            if (batch.OutputRows.Length != rows || batch.OutputRows.Where((r, i) => r != i).Any())
                throw new NnlArgumentException(nameof(batch), "a greedy pipeline step has every row as an output row, in order");
            if (idsFromDevice && rows != _lastRows)
                throw new NnlArgumentException(nameof(idsFromDevice), _lastRows == 0
                    ? "no step queued before this one has chosen ids on the device"
                    : $"the step before chose {_lastRows} ids; this batch has {rows} rows");
            var backend = _runner._backend;
            if (_deviceIds is null || _deviceIds.Bytes < rows * sizeof(int))
            {
                // Resized only between uses: a queued step may still write the old buffer, which the
                // allocator hands out again only in stream order.
                if (_deviceIds is not null) backend.Allocator.Free(_deviceIds);
                _deviceIds = null;
                _deviceIds = backend.Allocator.Allocate(Math.Max(rows, 8) * sizeof(int), "greedy pipeline ids");
            }
            var slot = _slots[_enqueued % _slots.Length] ??= new Slot(backend.Context);
            if (slot.Ids is null || slot.Capacity < rows)
            {
                // This slot's last step was taken (Pending < MaxPending), so its copies are done.
                slot.Staging?.Dispose();
                slot.Ids?.Dispose();
                slot.Staging = slot.Ids = null;
                slot.Staging = new HostBuffer(backend.Context, (3L * rows + rows) * sizeof(int), HostMemoryKind.Pinned);
                slot.Ids = new HostBuffer(backend.Context, (long)rows * sizeof(int), HostMemoryKind.Pinned);
                slot.Capacity = rows;
            }
            slot.Rows = rows;

            _lastRows = 0;
            _runner._binder.Cancellation = cancellation;
            try
            {
                slot.Start.Record(backend.Stream);
                using var backendBatch = backend.PrepareBatch(batch, slot.Staging!, idsFromDevice ? _deviceIds.Pointer : null);
                BackendTensor logits;
                // Recorded whole only behind a step in flight. The first step has the GPU idle: cut into
                // segments, its first nodes run while the host records the rest. A GPT-2-XL generation's
                // first step on the H100 (2026-11-22): 3.3-3.5 ms recorded whole with new slots, 2.5-2.6
                // with the runner's slots, 1.85-1.91 cut as well, against 1.70 for every later step.
                _runner._pipelinedPass = Pending > 0;
                try { logits = _runner._inner.ForwardOnDevice(backendBatch, _cache, cancellation); }
                finally { _runner._pipelinedPass = false; }
                try
                {
                    backend.ArgmaxInto(logits, _deviceIds.Pointer);
                    CudaCopy.DeviceToHost(slot.Ids.Pointer, _deviceIds.Pointer, (long)rows * sizeof(int), backend.Stream);
                }
                finally
                {
                    backend.Release(logits);
                }
                slot.Done.Record(backend.Stream);
            }
            catch
            {
                _runner._binder.Quiesce();
                throw;
            }
            _lastRows = rows;
            _enqueued++;
        }

        public unsafe int[] Take()
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (Pending == 0) throw new InvalidOperationException("No step is queued.");
            var slot = _slots[_taken % _slots.Length];
            slot.Done.Synchronize();
            _runner._computeMs += slot.Done.ElapsedMillisecondsSince(slot.Start);
            _taken++;
            return new ReadOnlySpan<int>((void*)slot.Ids!.Pointer, slot.Rows).ToArray();
        }

        public void Dispose()
        {
            if (_disposed) return;
            _disposed = true;
            bool drained = false;
            try
            {
                if (Pending > 0) _slots[(_enqueued - 1) % _slots.Length].Done.Synchronize();
                drained = true;
            }
            finally
            {
                if (_deviceIds is not null) _runner._backend.Allocator.Free(_deviceIds);
                // Drained, the slots' copies are done: the runner keeps them for its next pipeline.
                if (drained && !_runner._disposed && _runner._idleSlots is null) _runner._idleSlots = _slots;
                else foreach (var s in _slots) s?.Dispose();
            }
        }
    }
}
