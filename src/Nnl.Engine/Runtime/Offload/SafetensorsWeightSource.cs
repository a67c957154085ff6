using Microsoft.Win32.SafeHandles;
using Nnl.Engine.Models;

namespace Nnl.Engine.Runtime.Offload;

/// <summary>
/// Reads a file-backed catalog's tensors with positioned reads instead of through its memory map:
/// the disk reader's rate is then the file system's, and no reader shares a file position. The
/// host cache packs straight from the <see cref="WeightCatalog"/> (mapped files or generated memory).
/// </summary>
public sealed class SafetensorsWeightSource : IWeightSource, IDisposable
{
    private readonly WeightCatalog _catalog;
    private readonly Dictionary<string, SafeFileHandle> _handles = new(StringComparer.Ordinal);

    public SafetensorsWeightSource(WeightCatalog catalog)
    {
        if (catalog.Memory is not null)
            throw new NnlArgumentException("HostCache", "in-memory weights have no files to stream from; keep the host cache on");
        _catalog = catalog;
    }

    public string Name => _catalog.Directory;

    public IReadOnlyList<TensorInfo> Tensors => ((IWeightSource)_catalog).Tensors;

    public unsafe void CopyTo(TensorInfo tensor, byte* destination)
    {
        var handle = Handle(tensor.FilePath);
        long done = 0;
        while (done < tensor.ByteCount)
        {
            int chunk = (int)Math.Min(1L << 30, tensor.ByteCount - done);
            int read = RandomAccess.Read(handle, new Span<byte>(destination + done, chunk), tensor.FileOffset + done);
            if (read <= 0)
                throw new NnlModelFormatException(tensor.FilePath, "the file ended inside the tensor's data", byteOffset: tensor.FileOffset + done, tensorName: tensor.Name);
            done += read;
        }
    }

    private SafeFileHandle Handle(string path)
    {
        lock (_handles)
        {
            if (!_handles.TryGetValue(path, out var h))
                _handles[path] = h = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.RandomAccess);
            return h;
        }
    }

    public void Dispose()
    {
        lock (_handles)
        {
            foreach (var h in _handles.Values) h.Dispose();
            _handles.Clear();
        }
    }
}
