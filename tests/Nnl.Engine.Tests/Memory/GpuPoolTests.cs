using Nnl.Engine.Cuda;
using Nnl.Engine.Memory;

namespace Nnl.Engine.Tests.Memory;

/// <summary>The pool on a real GPU: data written through pool allocations is checked by the pattern kernels.</summary>
[Trait("Category", "Gpu")]
[Collection("Gpu")]
public class GpuPoolTests
{
    private static void Fill(CudaStream stream, PoolAllocation a, uint seed) =>
        KernelLibrary.Kernel(stream.Context, "pattern", "nnl_fill_pattern").Launch(stream, 512, 256, 0, a.DevicePointer, a.Bytes / 4, seed);

    private static ulong Mismatches(CudaStream stream, IEnumerable<(PoolAllocation A, uint Seed)> blocks)
    {
        using var count = new DeviceBuffer(stream.Context, 8);
        count.Fill(0);
        var verify = KernelLibrary.Kernel(stream.Context, "pattern", "nnl_verify_pattern");
        foreach (var (a, seed) in blocks) verify.Launch(stream, 512, 256, 0, a.DevicePointer, a.Bytes / 4, seed, count.Pointer);
        stream.Synchronize();
        var host = new ulong[1];
        count.CopyTo<ulong>(host);
        return host[0];
    }

    [GpuTheory]
    [InlineData(true)]
    [InlineData(false)]
    public void RandomAllocationsHoldTheirDataThroughReuseStitchingAndCompaction(bool virtualMemory)
    {
        var ctx = Gpu.Context;
        if (virtualMemory && !CudaVirtualMemory.IsSupported(ctx)) Assert.Skip("no virtual memory management on this GPU");
        var memory = new CudaPhysicalMemory(ctx, virtualMemory);
        long g = memory.Granularity;
        using var pool = new DeviceMemoryPool(memory, 200 * g);
        using var stream = new CudaStream(ctx);
        var rng = new Random(Environment.TickCount);
        var live = new List<(PoolAllocation A, uint Seed)>();
        int ooms = 0;
        for (int step = 0; step < 600; step++)
        {
            if (live.Count > 0 && rng.NextDouble() < 0.45)
            {
                int i = rng.Next(live.Count);
                Assert.Equal(0UL, Mismatches(stream, [live[i]]));
                live[i].A.Dispose();
                live.RemoveAt(i);
                continue;
            }
            long bytes = 4 * Math.Max(1, (long)Math.Exp(rng.NextDouble() * Math.Log(24.0 * g / 4)));
            try
            {
                var a = pool.Allocate(bytes, $"tensor {step}", relocatable: rng.Next(2) == 0);
                uint seed = (uint)rng.Next();
                Fill(stream, a, seed);
                live.Add((a, seed));
            }
            catch (NnlOutOfMemoryException) { ooms++; }
            if (step % 100 == 99) Assert.Equal(0UL, Mismatches(stream, live));
        }
        Assert.Equal(0UL, Mismatches(stream, live));
        var s = pool.Statistics();
        Assert.True(s.ReservedBytes <= 200 * g);
        Assert.Equal(live.Sum(l => l.A.BlockBytes), s.AllocatedBytes);
        Assert.True(s.CacheHits > 0);
        foreach (var l in live) l.A.Dispose();
        pool.Trim();
        Assert.Equal(0, pool.Statistics().ReservedBytes);
    }

    [GpuFact]
    public void ReservedMemoryShowsUpInTheDriverAndComesBackOnClear()
    {
        var ctx = Gpu.Context;
        var memory = new CudaPhysicalMemory(ctx, useVirtualMemory: true);
        using var pool = new DeviceMemoryPool(memory, 4L << 30);
        long before = ctx.MemoryInfo().FreeBytes;
        var a = pool.Allocate(1L << 30, "1 GiB");
        long during = ctx.MemoryInfo().FreeBytes;
        Assert.InRange(before - during, 1L << 30, (1L << 30) + (64L << 20));
        a.Dispose();
        Assert.InRange(before - ctx.MemoryInfo().FreeBytes, 1L << 30, (1L << 30) + (64L << 20)); // cached, still held
        pool.Trim();
        Assert.InRange(before - ctx.MemoryInfo().FreeBytes, -(64L << 20), 64L << 20);
    }

    [GpuFact]
    public void APinnedPoolBufferCarriesDataToTheDevice()
    {
        var ctx = Gpu.Context;
        using var pool = new PinnedHostPool(new CudaPinnedHostMemory(ctx), 1L << 30);
        int bytes = 5 * 1024 * 1024 + 123;
        using var host = pool.Allocate(bytes, "staging");
        using var device = new DeviceBuffer(ctx, bytes);
        var data = new byte[bytes];
        new Random(3).NextBytes(data);
        System.Runtime.InteropServices.Marshal.Copy(data, 0, host.HostPointer, bytes);
        using var stream = new CudaStream(ctx);
        CudaCopy.HostToDevice(device.Pointer, host.HostPointer, bytes, stream);
        stream.Synchronize();
        var back = new byte[bytes];
        device.CopyTo<byte>(back);
        Assert.Equal(data, back);
        Assert.InRange(pool.Statistics().ReservedBytes - bytes, 0, pool.GranularityBytes - 1);
    }
}
