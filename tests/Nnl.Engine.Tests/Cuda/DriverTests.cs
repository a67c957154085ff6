using System.Diagnostics;
using Nnl.Engine.Commands;
using Nnl.Engine.Cuda;

namespace Nnl.Engine.Tests.Cuda;

[Trait("Category", "Gpu")]
[Collection("Gpu")]
public class DriverTests
{
    [NoGpuFact]
    public void GetDeviceWithoutDriverSaysTheDriverWasNotFound()
    {
        var e = Assert.Throws<NnlLibraryNotFoundException>(() => new GetDeviceCommand().Execute(new CollectingSink()));
        Assert.Equal("CudaDriverNotFound", e.ErrorId);
        Assert.Equal("ResourceUnavailable", e.Category);
        Assert.Contains("NVIDIA driver", e.Message);
        Assert.False(CudaDriver.IsAvailable);
    }

    [GpuFact]
    public void DeviceNameAndMemoryMatchNvidiaSmi()
    {
        var sink = new CollectingSink();
        new GetDeviceCommand().Execute(sink);
        var devices = sink.RecordsOf<NnlDevice>().ToList();
        var smi = NvidiaSmi("--query-gpu=index,name,memory.total,pcie.link.gen.max,pcie.link.width.max,driver_version --format=csv,noheader,nounits");
        Assert.Equal(smi.Count, devices.Count);
        foreach (var (device, row) in devices.Zip(smi))
        {
            Assert.Equal(row[0], device.Index.ToString());
            Assert.Equal(row[1], device.Name);
            Assert.Equal(long.Parse(row[2]), device.TotalMemoryMiB);
            Assert.Equal(row[3], device.PcieMaxGeneration?.ToString());
            Assert.Equal(row[4], device.PcieMaxWidth?.ToString());
            Assert.Equal(row[5], device.DriverVersion);
            Assert.InRange(device.FreeMemoryBytes, 1, device.UsableMemoryBytes);
            Assert.InRange(device.UsableMemoryBytes, device.TotalMemoryBytes * 9 / 10, device.TotalMemoryBytes);
            Assert.Matches(@"^\d+\.\d$", device.ComputeCapability);
            Assert.True(device.Multiprocessors > 0);
        }
    }

    [GpuFact]
    public void AnUnknownDeviceIndexRaisesInvalidDevice()
    {
        int count = CudaDriver.DeviceCount;
        var e = Assert.Throws<NnlCudaException>(() => new GetDeviceCommand { Index = [count + 3] }.Execute(new CollectingSink()));
        Assert.Equal("CUDA_ERROR_INVALID_DEVICE", e.ErrorName);
        Assert.Equal("cuDeviceGet", e.Call);
        Assert.Equal("CudaInvalidDevice", e.ErrorId);
    }

    [GpuFact]
    public void AFailingCallNamesTheDriverErrorAndTheCall()
    {
        var context = Gpu.Context;
        // More memory than any GPU has: the driver refuses with CUDA_ERROR_OUT_OF_MEMORY.
        var e = Assert.Throws<NnlCudaException>(() => new DeviceBuffer(context, 1L << 50));
        Assert.Equal("CUDA_ERROR_OUT_OF_MEMORY", e.ErrorName);
        Assert.Equal("cuMemAlloc", e.Call);
        Assert.Contains("out of memory", e.Message);
    }

    internal static List<string[]> NvidiaSmi(string arguments)
    {
        var psi = new ProcessStartInfo("nvidia-smi", arguments) { RedirectStandardOutput = true, UseShellExecute = false };
        using var p = Process.Start(psi)!;
        string text = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return text.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(',').Select(c => c.Trim()).ToArray()).ToList();
    }
}
