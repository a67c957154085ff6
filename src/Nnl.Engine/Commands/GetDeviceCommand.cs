using Nnl.Engine.Cuda;

namespace Nnl.Engine.Commands;

/// <summary>Get-NnlDevice / `nnl device`: one <see cref="NnlDevice"/> per GPU, or per requested index.</summary>
public sealed class GetDeviceCommand : INnlCommand
{
    /// <summary>Device ordinals to describe; null or empty means every device.</summary>
    public int[]? Index { get; init; }

    public void Execute(ICommandSink sink)
    {
        CudaDriver.EnsureInitialised();
        var ordinals = Index is { Length: > 0 } ? Index : Enumerable.Range(0, CudaDriver.DeviceCount).ToArray();
        if (!Nvml.IsAvailable)
            sink.WriteWarning("NVML (libnvidia-ml) is not available: PCIe link, clocks, temperature and power are not reported.");
        foreach (int ordinal in ordinals)
        {
            sink.Cancellation.ThrowIfCancellationRequested();
            sink.WriteRecord(NnlDevice.Query(ordinal));
        }
    }
}
