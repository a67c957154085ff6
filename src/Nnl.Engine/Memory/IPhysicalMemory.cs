namespace Nnl.Engine.Memory;

/// <summary>
/// What the pool asks of the device: the virtual memory calls (reserve address space, create
/// physical chunks, map and unmap them) or, where the device has none, plain segments (cuMemAlloc).
/// The pool's policy only talks to this interface, so the CPU tests run it against a fake that
/// checks every call for misuse, and no test of the policy touches CUDA.
/// </summary>
public interface IPhysicalMemory
{
    /// <summary>Device ordinal, or -1 for a fake.</summary>
    int Device { get; }

    /// <summary>True where Reserve/Create/Map/Unmap work; otherwise only Allocate/Free do.</summary>
    bool SupportsVirtualMemory { get; }

    /// <summary>Size every chunk and mapping is a multiple of (2 MiB on current NVIDIA GPUs).</summary>
    long Granularity { get; }

    /// <summary>Driver calls made so far (a map counts its access grant too).</summary>
    long DriverCalls { get; }

    ulong Reserve(long bytes);
    void FreeReservation(ulong address, long bytes);
    ulong Create(long bytes);
    void Release(ulong handle);
    void Map(ulong address, long bytes, ulong handle);
    void Unmap(ulong address, long bytes);

    /// <summary>A segment of device memory without virtual memory management (cuMemAlloc).</summary>
    ulong Allocate(long bytes);
    void Free(ulong address);

    /// <summary>Device-to-device copy, used to relocate buffers when compacting segments.</summary>
    void Copy(ulong destination, ulong source, long bytes);
}
