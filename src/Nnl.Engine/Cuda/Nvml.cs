using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Nnl.Engine.Cuda;

/// <summary>
/// NVML (libnvidia-ml, shipped with the driver) for what the driver API does not say: PCIe link
/// generation and width, clocks, temperature, power. Optional: when it is missing or a query is not
/// supported (some virtualised GPUs), the answer is null, not an error.
/// </summary>
internal static unsafe partial class Nvml
{
    static Nvml() => NativeLibraryNames.EnsureResolver(typeof(Nvml).Assembly);

    private const string Lib = NativeLibraryNames.Nvml;
    private static readonly object Gate = new();
    private static bool? _initialised;

    [LibraryImport(Lib, EntryPoint = "nvmlInit_v2")] private static partial int nvmlInit();
    [LibraryImport(Lib)] private static partial IntPtr nvmlErrorString(int result);
    [LibraryImport(Lib)] private static partial int nvmlSystemGetDriverVersion(byte* version, uint length);
    [LibraryImport(Lib, EntryPoint = "nvmlDeviceGetHandleByPciBusId_v2")] private static partial int nvmlDeviceGetHandleByPciBusId(byte* busId, out IntPtr device);
    [LibraryImport(Lib)] private static partial int nvmlDeviceGetCurrPcieLinkGeneration(IntPtr device, out uint generation);
    [LibraryImport(Lib)] private static partial int nvmlDeviceGetMaxPcieLinkGeneration(IntPtr device, out uint generation);
    [LibraryImport(Lib)] private static partial int nvmlDeviceGetCurrPcieLinkWidth(IntPtr device, out uint width);
    [LibraryImport(Lib)] private static partial int nvmlDeviceGetMaxPcieLinkWidth(IntPtr device, out uint width);
    [LibraryImport(Lib)] private static partial int nvmlDeviceGetMemoryInfo(IntPtr device, ulong* memory);
    [LibraryImport(Lib)] private static partial int nvmlDeviceGetClockInfo(IntPtr device, int clockType, out uint mhz);
    [LibraryImport(Lib)] private static partial int nvmlDeviceGetMaxClockInfo(IntPtr device, int clockType, out uint mhz);
    [LibraryImport(Lib)] private static partial int nvmlDeviceGetTemperature(IntPtr device, int sensor, out uint celsius);
    [LibraryImport(Lib)] private static partial int nvmlDeviceGetPowerUsage(IntPtr device, out uint milliwatts);
    [LibraryImport(Lib)] private static partial int nvmlDeviceGetEnforcedPowerLimit(IntPtr device, out uint milliwatts);

    public const int ClockGraphics = 0;
    public const int ClockSm = 1;
    public const int ClockMemory = 2;

    public static bool IsAvailable
    {
        get
        {
            lock (Gate)
            {
                if (_initialised is bool known) return known;
                _initialised = NativeLibraryNames.TryLoad(Lib, out _) && nvmlInit() == 0;
                return _initialised.Value;
            }
        }
    }

    public static string? DriverVersion()
    {
        if (!IsAvailable) return null;
        byte* buffer = stackalloc byte[96];
        return nvmlSystemGetDriverVersion(buffer, 96) == 0 ? Marshal.PtrToStringUTF8((IntPtr)buffer) : null;
    }

    /// <summary>The NVML handle of the device with this PCI bus id (as cuDeviceGetPCIBusId gives it), or null.</summary>
    public static IntPtr? DeviceByPciBusId(string busId)
    {
        if (!IsAvailable) return null;
        var utf8 = System.Text.Encoding.UTF8.GetBytes(busId + "\0");
        fixed (byte* b = utf8) return nvmlDeviceGetHandleByPciBusId(b, out IntPtr h) == 0 ? h : null;
    }

    public static int? CurrentPcieGeneration(IntPtr d) => Query(nvmlDeviceGetCurrPcieLinkGeneration(d, out uint v), v);
    public static int? MaxPcieGeneration(IntPtr d) => Query(nvmlDeviceGetMaxPcieLinkGeneration(d, out uint v), v);
    public static int? CurrentPcieWidth(IntPtr d) => Query(nvmlDeviceGetCurrPcieLinkWidth(d, out uint v), v);
    public static int? MaxPcieWidth(IntPtr d) => Query(nvmlDeviceGetMaxPcieLinkWidth(d, out uint v), v);
    /// <summary>
    /// Physical memory as nvidia-smi reports it (memory.total). The driver API's cuDeviceTotalMem is
    /// smaller by what the driver reserves for itself (about 600 MiB on an H200).
    /// </summary>
    public static long? TotalMemoryBytes(IntPtr d)
    {
        ulong* info = stackalloc ulong[3]; // nvmlMemory_t { total, free, used }
        return nvmlDeviceGetMemoryInfo(d, info) == 0 ? (long)info[0] : null;
    }

    public static int? Clock(IntPtr d, int type) => Query(nvmlDeviceGetClockInfo(d, type, out uint v), v);
    public static int? MaxClock(IntPtr d, int type) => Query(nvmlDeviceGetMaxClockInfo(d, type, out uint v), v);
    public static int? TemperatureCelsius(IntPtr d) => Query(nvmlDeviceGetTemperature(d, 0, out uint v), v);
    public static int? PowerMilliwatts(IntPtr d) => Query(nvmlDeviceGetPowerUsage(d, out uint v), v);
    public static int? PowerLimitMilliwatts(IntPtr d) => Query(nvmlDeviceGetEnforcedPowerLimit(d, out uint v), v);

    /// <summary>A value when the query succeeded; null when NVML says it is not supported here.</summary>
    private static int? Query(int result, uint value, [CallerArgumentExpression(nameof(result))] string call = "") =>
        result == 0 ? (int)value : null;

    public static string ErrorText(int result) => Marshal.PtrToStringUTF8(nvmlErrorString(result)) ?? $"NVML error {result}";
}
