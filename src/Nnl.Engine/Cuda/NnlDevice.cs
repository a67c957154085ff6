namespace Nnl.Engine.Cuda;

/// <summary>
/// One GPU as the driver and NVML describe it. Null members: NVML could not say (not installed, not
/// supported). TotalMemoryBytes is the physical memory nvidia-smi reports (NVML); UsableMemoryBytes is
/// what CUDA can hand out (cuDeviceTotalMem), FreeMemoryBytes what is free of that now (cuMemGetInfo).
/// </summary>
public sealed record NnlDevice(
    int Index,
    string Name,
    string ComputeCapability,
    int Multiprocessors,
    long TotalMemoryBytes,
    long UsableMemoryBytes,
    long FreeMemoryBytes,
    int? PcieGeneration,
    int? PcieMaxGeneration,
    int? PcieWidth,
    int? PcieMaxWidth,
    string? DriverVersion,
    string CudaDriverApiVersion,
    bool VirtualMemoryManagement,
    bool HostRegisterSupported,
    int AsyncCopyEngines,
    string PciBusId,
    int? SmClockMHz,
    int? MaxSmClockMHz,
    int? MemoryClockMHz,
    int? TemperatureCelsius,
    double? PowerWatts,
    double? PowerLimitWatts)
{
    /// <summary>Total memory in MiB as nvidia-smi prints it (memory.total).</summary>
    public long TotalMemoryMiB => TotalMemoryBytes / (1024 * 1024);

    public long FreeMemoryMiB => FreeMemoryBytes / (1024 * 1024);

    /// <summary>Reads everything about device <paramref name="ordinal"/>; an unknown ordinal raises CUDA_ERROR_INVALID_DEVICE.</summary>
    public static NnlDevice Query(int ordinal)
    {
        int device = CudaDriver.GetDevice(ordinal);
        var context = CudaContext.ForDevice(ordinal);
        var (free, _) = context.MemoryInfo();
        string busId = CudaDriver.PciBusId(device);
        IntPtr? nvml = Nvml.DeviceByPciBusId(busId);
        int Attr(CudaDeviceAttribute a) => CudaDriver.Attribute(device, a);
        int? N(Func<IntPtr, int?> query) => nvml is IntPtr h ? query(h) : null;
        return new NnlDevice(
            Index: ordinal,
            Name: CudaDriver.DeviceName(device),
            ComputeCapability: $"{Attr(CudaDeviceAttribute.ComputeCapabilityMajor)}.{Attr(CudaDeviceAttribute.ComputeCapabilityMinor)}",
            Multiprocessors: Attr(CudaDeviceAttribute.MultiprocessorCount),
            TotalMemoryBytes: nvml is IntPtr hm && Nvml.TotalMemoryBytes(hm) is long physical ? physical : CudaDriver.TotalMemoryBytes(device),
            UsableMemoryBytes: CudaDriver.TotalMemoryBytes(device),
            FreeMemoryBytes: free,
            PcieGeneration: N(Nvml.CurrentPcieGeneration),
            PcieMaxGeneration: N(Nvml.MaxPcieGeneration),
            PcieWidth: N(Nvml.CurrentPcieWidth),
            PcieMaxWidth: N(Nvml.MaxPcieWidth),
            DriverVersion: Nvml.DriverVersion(),
            CudaDriverApiVersion: CudaDriver.DriverApiVersion.ToString(2),
            VirtualMemoryManagement: Attr(CudaDeviceAttribute.VirtualMemoryManagementSupported) != 0,
            HostRegisterSupported: Attr(CudaDeviceAttribute.HostRegisterSupported) != 0,
            AsyncCopyEngines: Attr(CudaDeviceAttribute.AsyncEngineCount),
            PciBusId: busId,
            SmClockMHz: N(h => Nvml.Clock(h, Nvml.ClockSm)),
            MaxSmClockMHz: N(h => Nvml.MaxClock(h, Nvml.ClockSm)),
            MemoryClockMHz: N(h => Nvml.Clock(h, Nvml.ClockMemory)),
            TemperatureCelsius: N(Nvml.TemperatureCelsius),
            PowerWatts: N(Nvml.PowerMilliwatts) / 1000.0,
            PowerLimitWatts: N(Nvml.PowerLimitMilliwatts) / 1000.0);
    }
}
