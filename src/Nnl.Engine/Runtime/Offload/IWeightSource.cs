using Microsoft.Win32.SafeHandles;
using Nnl.Engine.Models;

namespace Nnl.Engine.Runtime.Offload;

/// <summary>
/// Where the offload engine reads weight bytes from when it packs or streams a node: the model's
/// safetensors files, or weights generated in memory (New-NnlModel -InMemory). Thread-safe:
/// the packer and the disk reader call it from several threads at once.
/// </summary>
public interface IWeightSource
{
    /// <summary>Copies <paramref name="tensor"/>'s raw bytes (ByteCount of them) to <paramref name="destination"/>.</summary>
    unsafe void ReadTensor(TensorInfo tensor, byte* destination);

    /// <summary>True when reads come from files (so a disk rate means something).</summary>
    bool IsFileBacked { get; }
}

/// <summary>
/// Reads tensors from safetensors files with positioned reads (no memory map in the way, so the
/// disk reader's rate is the file system's, and no reader shares a file position).
/// </summary>
public sealed class SafetensorsWeightSource : IWeightSource, IDisposable
{
    private readonly Dictionary<string, SafeFileHandle> _handles = new(StringComparer.Ordinal);

    public bool IsFileBacked => true;

    public unsafe void ReadTensor(TensorInfo tensor, byte* destination)
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
