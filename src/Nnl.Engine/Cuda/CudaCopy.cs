namespace Nnl.Engine.Cuda;

/// <summary>Asynchronous copies and fills on a stream. Host pointers must stay valid until the stream reaches them.</summary>
public static unsafe class CudaCopy
{
    public static void HostToDevice(ulong destination, IntPtr source, long bytes, CudaStream stream)
    {
        stream.Context.MakeCurrent();
        CudaCheck.ThrowIfFailed(CudaApi.cuMemcpyHtoDAsync(destination, (void*)source, (nuint)bytes, stream.Handle));
    }

    public static void DeviceToHost(IntPtr destination, ulong source, long bytes, CudaStream stream)
    {
        stream.Context.MakeCurrent();
        CudaCheck.ThrowIfFailed(CudaApi.cuMemcpyDtoHAsync((void*)destination, source, (nuint)bytes, stream.Handle));
    }

    public static void DeviceToDevice(ulong destination, ulong source, long bytes, CudaStream stream)
    {
        stream.Context.MakeCurrent();
        CudaCheck.ThrowIfFailed(CudaApi.cuMemcpyDtoDAsync(destination, source, (nuint)bytes, stream.Handle));
    }

    /// <summary>Copies between two devices' memory (through peer access when enabled, else staged by the driver).</summary>
    public static void Peer(ulong destination, CudaContext destinationContext, ulong source, CudaContext sourceContext, long bytes, CudaStream stream)
    {
        stream.Context.MakeCurrent();
        CudaCheck.ThrowIfFailed(CudaApi.cuMemcpyPeerAsync(destination, destinationContext.Handle, source, sourceContext.Handle, (nuint)bytes, stream.Handle));
    }

    public static void Fill(ulong destination, byte value, long bytes, CudaStream stream)
    {
        stream.Context.MakeCurrent();
        CudaCheck.ThrowIfFailed(CudaApi.cuMemsetD8Async(destination, value, (nuint)bytes, stream.Handle));
    }

    public static void Fill32(ulong destination, uint value, long words, CudaStream stream)
    {
        stream.Context.MakeCurrent();
        CudaCheck.ThrowIfFailed(CudaApi.cuMemsetD32Async(destination, value, (nuint)words, stream.Handle));
    }
}
