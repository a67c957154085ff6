using System.Runtime.InteropServices;
using Nnl.Engine.Runtime;

namespace Nnl.Engine.Models;

/// <summary>
/// One page-aligned block of native host memory holding a model's weights back to back, laid out
/// like a safetensors data section (a tensor's <see cref="TensorInfo.FileOffset"/> is its offset
/// here). Page alignment lets a GPU runner pin the whole block once (cuMemHostRegister) and DMA
/// any node's weights from it without a staging copy.
/// </summary>
public sealed unsafe class HostWeightMemory : IDisposable
{
    public const long PageBytes = 4096;

    private byte* _pointer;

    public HostWeightMemory(long length)
    {
        if (length < 0) throw new ArgumentOutOfRangeException(nameof(length));
        Length = length;
        try
        {
            _pointer = (byte*)NativeMemory.AlignedAlloc((nuint)Math.Max(length, 1), (nuint)PageBytes);
        }
        catch (OutOfMemoryException e)
        {
            throw new NnlArgumentException("InMemory", $"{length / (1 << 20)} MiB of host memory for the weights could not be allocated ({e.Message}).");
        }
    }

    /// <summary>Start of the block (page-aligned); valid until disposal.</summary>
    public byte* Pointer => _pointer != null ? _pointer : throw new ObjectDisposedException(nameof(HostWeightMemory));

    public long Length { get; }

    public WeightBytes GetBytes(TensorInfo tensor)
    {
        if (tensor.FileOffset < 0 || tensor.FileOffset + tensor.ByteCount > Length)
            throw new ArgumentOutOfRangeException(nameof(tensor), $"{tensor.Name} lies outside the host block.");
        return new WeightBytes(Pointer + tensor.FileOffset, tensor.ByteCount);
    }

    public void Dispose()
    {
        if (_pointer == null) return;
        NativeMemory.AlignedFree(_pointer);
        _pointer = null;
    }
}
