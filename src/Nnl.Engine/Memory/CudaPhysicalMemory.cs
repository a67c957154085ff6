using Nnl.Engine.Cuda;

namespace Nnl.Engine.Memory;

/// <summary>
/// <see cref="IPhysicalMemory"/> on a CUDA device: cuMemAddressReserve/cuMemCreate/cuMemMap (+
/// cuMemSetAccess) where the device supports virtual memory management, cuMemAlloc/cuMemFree otherwise.
/// </summary>
public sealed class CudaPhysicalMemory : IPhysicalMemory
{
    private const long SegmentGranularity = 2L << 20;
    private long _calls;

    public CudaPhysicalMemory(CudaContext context, bool useVirtualMemory)
    {
        Context = context;
        SupportsVirtualMemory = useVirtualMemory && CudaVirtualMemory.IsSupported(context);
        Granularity = SupportsVirtualMemory ? CudaVirtualMemory.Granularity(context) : SegmentGranularity;
    }

    public CudaContext Context { get; }
    public int Device => Context.Ordinal;
    public bool SupportsVirtualMemory { get; }
    public long Granularity { get; }
    public long DriverCalls => Interlocked.Read(ref _calls);

    private void Count(int calls = 1) => Interlocked.Add(ref _calls, calls);

    public ulong Reserve(long bytes) { Count(); return CudaVirtualMemory.Reserve(Context, bytes, Granularity); }
    public void FreeReservation(ulong address, long bytes) { Count(); CudaVirtualMemory.Free(Context, address, bytes); }
    public ulong Create(long bytes) { Count(); return CudaVirtualMemory.Create(Context, bytes); }
    public void Release(ulong handle) { Count(); CudaVirtualMemory.Release(Context, handle); }
    public void Map(ulong address, long bytes, ulong handle) { Count(2); CudaVirtualMemory.Map(Context, address, bytes, handle); }
    public void Unmap(ulong address, long bytes) { Count(); CudaVirtualMemory.Unmap(Context, address, bytes); }

    public ulong Allocate(long bytes)
    {
        Count();
        Context.MakeCurrent();
        CudaCheck.ThrowIfFailed(CudaApi.cuMemAlloc(out ulong p, (nuint)bytes));
        return p;
    }

    public void Free(ulong address)
    {
        Count();
        Context.MakeCurrent();
        CudaCheck.ThrowIfFailed(CudaApi.cuMemFree(address));
    }

    public void Copy(ulong destination, ulong source, long bytes)
    {
        Count();
        Context.MakeCurrent();
        CudaCheck.ThrowIfFailed(CudaApi.cuMemcpyDtoD(destination, source, (nuint)bytes));
    }
}
