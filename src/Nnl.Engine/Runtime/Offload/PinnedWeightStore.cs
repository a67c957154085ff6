using Nnl.Engine.Cuda;
using Nnl.Engine.Models;

namespace Nnl.Engine.Runtime.Offload;

/// <summary>
/// The host cache: every streamed node packed into one contiguous pinned buffer (the layout it has
/// on the GPU), so each node costs one DMA at full PCIe speed instead of a copy per tensor; and the
/// host-mapped tensors (embedding tables) in one more pinned buffer that kernels read in place.
/// </summary>
public sealed unsafe class PinnedWeightStore : IDisposable
{
    private readonly Dictionary<int, HostBuffer> _nodes = new();
    private readonly Dictionary<string, (HostBuffer Buffer, long Offset)> _mapped = new(StringComparer.Ordinal);
    private HostBuffer? _mappedBuffer;

    /// <param name="includeStreamed">False when streamed nodes come from disk (only the mapped tensors are packed here).</param>
    public PinnedWeightStore(CudaContext context, OffloadPlan plan, IWeightSource source, bool includeStreamed,
        Action<long, long>? progress = null, CancellationToken cancellation = default)
    {
        var work = new List<(TensorInfo Tensor, IntPtr Destination)>();
        try
        {
            if (includeStreamed)
            {
                foreach (var layout in plan.StreamedLayouts)
                {
                    if (layout is null) continue;
                    var buffer = new HostBuffer(context, layout.Bytes, HostMemoryKind.Pinned);
                    _nodes[layout.Node.Index] = buffer;
                    foreach (var t in layout.Tensors) work.Add((t, buffer.Pointer + (nint)layout.Offsets[t.Name]));
                }
            }
            var mapped = plan.TensorsPlaced(WeightPlacement.HostMapped).ToList();
            if (mapped.Count > 0)
            {
                long at = 0;
                var offsets = new List<long>();
                foreach (var t in mapped) { offsets.Add(at); at = NodeLayout.AlignUp(at + t.ByteCount); }
                _mappedBuffer = new HostBuffer(context, at, HostMemoryKind.Mapped);
                for (int i = 0; i < mapped.Count; i++)
                {
                    _mapped[mapped[i].Name] = (_mappedBuffer, offsets[i]);
                    work.Add((mapped[i], _mappedBuffer.Pointer + (nint)offsets[i]));
                }
            }
            Fill(source, work, progress, cancellation);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public long PinnedBytes => _nodes.Values.Sum(b => b.Bytes) + (_mappedBuffer?.Bytes ?? 0);

    /// <summary>The pinned buffer holding node <paramref name="nodeIndex"/>'s streamed weights.</summary>
    public HostBuffer Node(int nodeIndex) => _nodes[nodeIndex];

    public bool HasNode(int nodeIndex) => _nodes.ContainsKey(nodeIndex);

    /// <summary>The device-visible address of a host-mapped tensor (pinned memory is mapped, UVA).</summary>
    public ulong MappedDevicePointer(TensorInfo tensor)
    {
        var (buffer, offset) = _mapped[tensor.Name];
        return buffer.DevicePointer + (ulong)offset;
    }

    /// <summary>
    /// Reads every tensor into place, several at a time (disk and page cache both like parallel
    /// reads), while the calling thread reports progress: hosts only take progress from the thread
    /// that called them.
    /// </summary>
    private static void Fill(IWeightSource source, List<(TensorInfo Tensor, IntPtr Destination)> work,
        Action<long, long>? progress, CancellationToken cancellation)
    {
        long total = work.Sum(w => w.Tensor.ByteCount), done = 0;
        var task = Task.Run(() => Parallel.ForEach(work,
            new ParallelOptions { MaxDegreeOfParallelism = Math.Min(8, Environment.ProcessorCount), CancellationToken = cancellation },
            w =>
            {
                source.CopyTo(w.Tensor, (byte*)w.Destination);
                Interlocked.Add(ref done, w.Tensor.ByteCount);
            }));
        while (!task.Wait(100)) progress?.Invoke(Interlocked.Read(ref done), total);
        task.GetAwaiter().GetResult();
        progress?.Invoke(total, total);
    }

    public void Dispose()
    {
        foreach (var b in _nodes.Values) b.Dispose();
        _nodes.Clear();
        _mappedBuffer?.Dispose();
        _mappedBuffer = null;
        _mapped.Clear();
    }
}
