using System.Runtime.InteropServices;

namespace Nnl.Engine.Cuda;

/// <summary>
/// Entry point to the driver: loads it once, initialises it, and answers whether a GPU exists.
/// A machine without the driver gets <see cref="NnlLibraryNotFoundException"/> (CudaDriverNotFound),
/// never a DllNotFoundException.
/// </summary>
public static class CudaDriver
{
    private static readonly object Gate = new();
    private static bool _initialised;

    /// <summary>True when libcuda can be loaded and cuInit succeeds with at least one device.</summary>
    public static bool IsAvailable
    {
        get
        {
            try { return DeviceCount > 0; }
            catch (NnlException) { return false; }
        }
    }

    /// <summary>Loads and initialises the driver (idempotent); throws when it is missing or broken.</summary>
    public static void EnsureInitialised()
    {
        lock (Gate)
        {
            if (_initialised) return;
            if (!NativeLibraryNames.TryLoad(NativeLibraryNames.Cuda, out _))
                throw new NnlLibraryNotFoundException("NVIDIA driver", NativeLibraryNames.Describe(NativeLibraryNames.Cuda),
                    "Install the NVIDIA GPU driver (it provides libcuda.so.1 on Linux, nvcuda.dll on Windows); Nnl needs nothing else at run time.");
            CudaCheck.ThrowIfFailed(CudaApi.cuInit(0));
            _initialised = true;
        }
    }

    public static int DeviceCount
    {
        get
        {
            EnsureInitialised();
            CudaCheck.ThrowIfFailed(CudaApi.cuDeviceGetCount(out int count));
            return count;
        }
    }

    /// <summary>Driver API version as the driver reports it, e.g. 13.0 for 13000.</summary>
    public static Version DriverApiVersion
    {
        get
        {
            EnsureInitialised();
            CudaCheck.ThrowIfFailed(CudaApi.cuDriverGetVersion(out int v));
            return new Version(v / 1000, v % 1000 / 10);
        }
    }

    /// <summary>Checks an ordinal against the driver: an unknown one raises CUDA_ERROR_INVALID_DEVICE from cuDeviceGet.</summary>
    public static int GetDevice(int ordinal)
    {
        EnsureInitialised();
        CudaCheck.ThrowIfFailed(CudaApi.cuDeviceGet(out int device, ordinal));
        return device;
    }

    internal static unsafe string DeviceName(int device)
    {
        byte* buffer = stackalloc byte[256];
        CudaCheck.ThrowIfFailed(CudaApi.cuDeviceGetName(buffer, 256, device));
        return Marshal.PtrToStringUTF8((IntPtr)buffer) ?? "";
    }

    internal static unsafe string PciBusId(int device)
    {
        byte* buffer = stackalloc byte[64];
        CudaCheck.ThrowIfFailed(CudaApi.cuDeviceGetPCIBusId(buffer, 64, device));
        return Marshal.PtrToStringUTF8((IntPtr)buffer) ?? "";
    }

    internal static int Attribute(int device, CudaDeviceAttribute attribute)
    {
        CudaCheck.ThrowIfFailed(CudaApi.cuDeviceGetAttribute(out int value, attribute, device));
        return value;
    }

    internal static long TotalMemoryBytes(int device)
    {
        CudaCheck.ThrowIfFailed(CudaApi.cuDeviceTotalMem(out nuint bytes, device));
        return (long)bytes;
    }
}
