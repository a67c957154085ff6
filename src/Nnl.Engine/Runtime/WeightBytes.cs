namespace Nnl.Engine.Runtime;

/// <summary>
/// A read-only view of a tensor's bytes in memory the caller keeps alive (a memory-mapped
/// safetensors file, a pinned host buffer). A pointer and a long length rather than a span,
/// because the largest embeddings exceed 2 GiB.
/// </summary>
public readonly unsafe struct WeightBytes
{
    public WeightBytes(byte* pointer, long length)
    {
        if (length < 0) throw new ArgumentOutOfRangeException(nameof(length));
        Pointer = pointer;
        Length = length;
    }

    public byte* Pointer { get; }
    public long Length { get; }

    /// <summary>A span over part of the bytes (at most 2 GiB at a time).</summary>
    public ReadOnlySpan<byte> Slice(long offset, int count)
    {
        if (offset < 0 || count < 0 || offset + count > Length) throw new ArgumentOutOfRangeException(nameof(offset));
        return new ReadOnlySpan<byte>(Pointer + offset, count);
    }
}
