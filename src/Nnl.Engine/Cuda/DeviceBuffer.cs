namespace Nnl.Engine.Cuda;

/// <summary>
/// Device memory straight from cuMemAlloc. The engine normally takes memory from the pool
/// (Memory/); this is the pool's fallback backing and what probes and tests use directly.
/// </summary>
public sealed unsafe class DeviceBuffer : IDisposable
{
    public DeviceBuffer(CudaContext context, long bytes)
    {
        if (bytes <= 0) throw new NnlArgumentException(nameof(bytes), $"a device buffer needs a positive size, not {bytes}");
        Context = context;
        context.MakeCurrent();
        CudaCheck.ThrowIfFailed(CudaApi.cuMemAlloc(out ulong pointer, (nuint)bytes));
        Pointer = pointer;
        Bytes = bytes;
    }

    public CudaContext Context { get; }
    public ulong Pointer { get; private set; }
    public long Bytes { get; }

    public void CopyFrom(ReadOnlySpan<byte> source, long offset = 0)
    {
        CheckRange(offset, source.Length);
        Context.MakeCurrent();
        fixed (byte* s = source) CudaCheck.ThrowIfFailed(CudaApi.cuMemcpyHtoD(Pointer + (ulong)offset, s, (nuint)source.Length));
        // From pageable memory cuMemcpyHtoD returns once the bytes are staged, before the DMA lands;
        // work on a non-blocking stream would not wait for it. Wait here, so the buffer holds the data.
        CudaCheck.ThrowIfFailed(CudaApi.cuStreamSynchronize(IntPtr.Zero));
    }

    public void CopyTo(Span<byte> destination, long offset = 0)
    {
        CheckRange(offset, destination.Length);
        Context.MakeCurrent();
        fixed (byte* d = destination) CudaCheck.ThrowIfFailed(CudaApi.cuMemcpyDtoH(d, Pointer + (ulong)offset, (nuint)destination.Length));
    }

    public void CopyFrom<T>(ReadOnlySpan<T> source, long offset = 0) where T : unmanaged =>
        CopyFrom(System.Runtime.InteropServices.MemoryMarshal.AsBytes(source), offset);

    public void CopyTo<T>(Span<T> destination, long offset = 0) where T : unmanaged =>
        CopyTo(System.Runtime.InteropServices.MemoryMarshal.AsBytes(destination), offset);

    public void Fill(byte value)
    {
        Context.MakeCurrent();
        CudaCheck.ThrowIfFailed(CudaApi.cuMemsetD8(Pointer, value, (nuint)Bytes));
        CudaCheck.ThrowIfFailed(CudaApi.cuStreamSynchronize(IntPtr.Zero)); // memset may run after returning
    }

    private void CheckRange(long offset, long count)
    {
        if (offset < 0 || count < 0 || offset + count > Bytes)
            throw new NnlArgumentException("offset", $"range {offset}+{count} is outside the {Bytes}-byte device buffer");
    }

    public void Dispose()
    {
        if (Pointer == 0) return;
        Context.MakeCurrent();
        CudaCheck.ThrowIfFailed(CudaApi.cuMemFree(Pointer));
        Pointer = 0;
    }
}
