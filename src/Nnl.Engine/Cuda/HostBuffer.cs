using System.Runtime.InteropServices;

namespace Nnl.Engine.Cuda;

/// <summary>How host memory was obtained; decides how fast the copy engines can reach it.</summary>
public enum HostMemoryKind
{
    /// <summary>Ordinary memory: the driver stages copies through its own pinned bounce buffers.</summary>
    Pageable,
    /// <summary>Page-locked (cuMemHostAlloc): copy engines DMA it directly.</summary>
    Pinned,
    /// <summary>Pinned and write-combined: fast for the host to write and the GPU to read, slow for the host to read.</summary>
    WriteCombined,
    /// <summary>Pageable memory pinned in place with cuMemHostRegister.</summary>
    Registered,
    /// <summary>Pinned and mapped into the device's address space: kernels read it over PCIe (zero copy).</summary>
    Mapped,
}

/// <summary>
/// Host memory of one of the <see cref="HostMemoryKind"/>s, with a device pointer when mapped.
/// Pageable and registered memory come from NativeMemory, page-aligned, so registration pins whole pages.
/// </summary>
public sealed unsafe class HostBuffer : IDisposable
{
    private const int PageBytes = 4096;

    public HostBuffer(CudaContext? context, long bytes, HostMemoryKind kind)
    {
        if (bytes <= 0) throw new NnlArgumentException(nameof(bytes), $"a host buffer needs a positive size, not {bytes}");
        Context = context;
        Bytes = bytes;
        Kind = kind;
        switch (kind)
        {
            case HostMemoryKind.Pageable:
                Pointer = (IntPtr)NativeMemory.AlignedAlloc((nuint)bytes, PageBytes);
                break;
            case HostMemoryKind.Registered:
                RequireContext(kind).MakeCurrent();
                Pointer = (IntPtr)NativeMemory.AlignedAlloc((nuint)bytes, PageBytes);
                int rc = CudaApi.cuMemHostRegister(Pointer, (nuint)bytes, CudaFlags.HostRegisterPortable | CudaFlags.HostRegisterDeviceMap);
                if (rc != 0)
                {
                    NativeMemory.AlignedFree((void*)Pointer);
                    Pointer = IntPtr.Zero;
                    throw CudaCheck.Exception(rc, "cuMemHostRegister");
                }
                break;
            default:
                RequireContext(kind).MakeCurrent();
                uint flags = CudaFlags.HostAllocPortable | kind switch
                {
                    HostMemoryKind.WriteCombined => CudaFlags.HostAllocWriteCombined | CudaFlags.HostAllocDeviceMap,
                    HostMemoryKind.Mapped => CudaFlags.HostAllocDeviceMap,
                    _ => CudaFlags.HostAllocDeviceMap,
                };
                CudaCheck.ThrowIfFailed(CudaApi.cuMemHostAlloc(out IntPtr p, (nuint)bytes, flags));
                Pointer = p;
                break;
        }
    }

    public CudaContext? Context { get; }
    public IntPtr Pointer { get; private set; }
    public long Bytes { get; }
    public HostMemoryKind Kind { get; }
    public bool IsPageLocked => Kind != HostMemoryKind.Pageable;

    /// <summary>The address kernels use to reach this memory over PCIe (mapped, pinned, registered kinds).</summary>
    public ulong DevicePointer
    {
        get
        {
            if (!IsPageLocked) throw new InvalidOperationException("pageable memory has no device address");
            RequireContext(Kind).MakeCurrent();
            CudaCheck.ThrowIfFailed(CudaApi.cuMemHostGetDevicePointer(out ulong d, Pointer, 0));
            return d;
        }
    }

    public Span<byte> AsSpan(long offset, int length)
    {
        if (offset < 0 || length < 0 || offset + length > Bytes)
            throw new NnlArgumentException(nameof(offset), $"range {offset}+{length} is outside the {Bytes}-byte host buffer");
        return new Span<byte>((byte*)Pointer + offset, length);
    }

    private CudaContext RequireContext(HostMemoryKind kind) =>
        Context ?? throw new NnlArgumentException("context", $"{kind} host memory needs a CUDA context");

    public void Dispose()
    {
        if (Pointer == IntPtr.Zero) return;
        switch (Kind)
        {
            case HostMemoryKind.Pageable:
                NativeMemory.AlignedFree((void*)Pointer);
                break;
            case HostMemoryKind.Registered:
                Context!.MakeCurrent();
                CudaApi.cuMemHostUnregister(Pointer);
                NativeMemory.AlignedFree((void*)Pointer);
                break;
            default:
                Context!.MakeCurrent();
                CudaCheck.ThrowIfFailed(CudaApi.cuMemFreeHost(Pointer));
                break;
        }
        Pointer = IntPtr.Zero;
    }
}
