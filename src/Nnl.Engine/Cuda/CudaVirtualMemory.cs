namespace Nnl.Engine.Cuda;

/// <summary>
/// The virtual memory management calls (CUDA 10.2+): reserve address ranges, create physical chunks,
/// map chunks into ranges and grant access. The memory pool uses these to back one contiguous
/// virtual range with whatever physical chunks are free, so free memory never becomes unusable
/// because it is scattered.
/// </summary>
public static unsafe class CudaVirtualMemory
{
    public static bool IsSupported(CudaContext context) =>
        CudaDriver.Attribute(CudaDriver.GetDevice(context.Ordinal), CudaDeviceAttribute.VirtualMemoryManagementSupported) != 0;

    private static CudaMemAllocationProp Properties(CudaContext context) => new()
    {
        Type = CudaFlags.MemAllocationTypePinned,
        LocationType = CudaFlags.MemLocationTypeDevice,
        LocationId = context.Ordinal,
    };

    /// <summary>The size every physical chunk and mapping must be a multiple of (2 MiB on current GPUs).</summary>
    public static long Granularity(CudaContext context, bool recommended = false)
    {
        context.MakeCurrent();
        var prop = Properties(context);
        CudaCheck.ThrowIfFailed(CudaApi.cuMemGetAllocationGranularity(out nuint g, &prop,
            recommended ? CudaFlags.MemAllocGranularityRecommended : CudaFlags.MemAllocGranularityMinimum));
        return (long)g;
    }

    public static ulong Reserve(CudaContext context, long bytes, long alignment = 0)
    {
        context.MakeCurrent();
        CudaCheck.ThrowIfFailed(CudaApi.cuMemAddressReserve(out ulong p, (nuint)bytes, (nuint)alignment, 0, 0));
        return p;
    }

    public static void Free(CudaContext context, ulong address, long bytes)
    {
        context.MakeCurrent();
        CudaCheck.ThrowIfFailed(CudaApi.cuMemAddressFree(address, (nuint)bytes));
    }

    /// <summary>Creates a physical chunk of device memory (a handle, not yet addressable).</summary>
    public static ulong Create(CudaContext context, long bytes)
    {
        context.MakeCurrent();
        var prop = Properties(context);
        CudaCheck.ThrowIfFailed(CudaApi.cuMemCreate(out ulong handle, (nuint)bytes, &prop, 0));
        return handle;
    }

    public static void Release(CudaContext context, ulong handle)
    {
        context.MakeCurrent();
        CudaCheck.ThrowIfFailed(CudaApi.cuMemRelease(handle));
    }

    /// <summary>Maps a physical chunk at a reserved address and grants this device read/write access.</summary>
    public static void Map(CudaContext context, ulong address, long bytes, ulong handle)
    {
        context.MakeCurrent();
        CudaCheck.ThrowIfFailed(CudaApi.cuMemMap(address, (nuint)bytes, 0, handle, 0));
        var access = new CudaMemAccessDesc
        {
            LocationType = CudaFlags.MemLocationTypeDevice,
            LocationId = context.Ordinal,
            Flags = CudaFlags.MemAccessProtReadWrite,
        };
        int rc = CudaApi.cuMemSetAccess(address, (nuint)bytes, &access, 1);
        if (rc != 0)
        {
            CudaApi.cuMemUnmap(address, (nuint)bytes);
            throw CudaCheck.Exception(rc, "cuMemSetAccess");
        }
    }

    public static void Unmap(CudaContext context, ulong address, long bytes)
    {
        context.MakeCurrent();
        CudaCheck.ThrowIfFailed(CudaApi.cuMemUnmap(address, (nuint)bytes));
    }
}
