using System.Runtime.InteropServices;
using Nnl.Engine.Cuda;

namespace Nnl.Engine.Transfer;

/// <summary>
/// Memory a transfer reads or writes: device memory, page-locked host memory (reachable by kernels at
/// its mapped address) or pageable host memory (reachable only by the CPU).
/// </summary>
internal readonly record struct TransferRegion(CudaContext Context, ulong DeviceAddress, IntPtr HostPointer)
{
    public static TransferRegion Of(DeviceBuffer buffer) => new(buffer.Context, buffer.Pointer, IntPtr.Zero);

    public static TransferRegion Of(HostBuffer buffer, CudaContext context) =>
        new(context, buffer.IsPageLocked ? buffer.DevicePointer : 0, buffer.Pointer);

    /// <summary>Pageable host memory: only the CPU can fill and check it.</summary>
    public bool CpuOnly => DeviceAddress == 0;
}

/// <summary>
/// Fills a source with a seeded pattern and counts differing bytes at the destination: kernels for
/// device and page-locked host memory (so write-combined memory is never read by the CPU), a CPU loop
/// with the same hash for pageable memory. Byte i is byte i%4 of hash32((i/4) ^ seed).
/// </summary>
internal sealed class TransferPattern : IDisposable
{
    private readonly Dictionary<int, (CudaKernel Fill, CudaKernel Verify, DeviceBuffer Counter, int Blocks)> _perDevice = new();

    private (CudaKernel Fill, CudaKernel Verify, DeviceBuffer Counter, int Blocks) For(CudaContext context)
    {
        if (_perDevice.TryGetValue(context.Ordinal, out var k)) return k;
        int sms = CudaDriver.Attribute(CudaDriver.GetDevice(context.Ordinal), CudaDeviceAttribute.MultiprocessorCount);
        k = (KernelLibrary.Kernel(context, "transfer", "nnl_fill_pattern_bytes"), KernelLibrary.Kernel(context, "transfer", "nnl_verify_pattern_bytes"),
            new DeviceBuffer(context, 8), sms * 8);
        _perDevice[context.Ordinal] = k;
        return k;
    }

    public void Fill(TransferRegion region, long offset, long bytes, uint seed, CudaStream stream)
    {
        if (region.CpuOnly) { FillHost(region.HostPointer + (nint)offset, bytes, seed); return; }
        var k = For(region.Context);
        k.Fill.Launch(Aux(region, stream), Blocks(bytes, k.Blocks), 256, 0, region.DeviceAddress + (ulong)offset, bytes, seed);
    }

    /// <summary>Zeroes a destination before a point, so a copy that never happened cannot pass the check.</summary>
    public unsafe void Clear(TransferRegion region, long offset, long bytes, CudaStream stream)
    {
        // Host memory of any kind is cleared by the CPU (writes are fast even to write-combined memory).
        if (region.HostPointer != IntPtr.Zero) { NativeMemory.Clear((byte*)region.HostPointer + offset, (nuint)bytes); return; }
        CudaCopy.Fill(region.DeviceAddress + (ulong)offset, 0, bytes, Aux(region, stream));
    }

    /// <summary>Differing bytes (a differing 4-byte word counts 4); waits for <paramref name="stream"/> first.</summary>
    public long CountMismatches(TransferRegion region, long offset, long bytes, uint seed, CudaStream stream)
    {
        stream.Synchronize();
        if (region.CpuOnly) return CountMismatchesHost(region.HostPointer + (nint)offset, bytes, seed);
        var k = For(region.Context);
        using var own = region.Context.Ordinal == stream.Context.Ordinal ? null : new CudaStream(region.Context);
        var s = own ?? stream;
        CudaCopy.Fill(k.Counter.Pointer, 0, 8, s);
        k.Verify.Launch(s, Blocks(bytes, k.Blocks), 256, 0, region.DeviceAddress + (ulong)offset, bytes, seed, k.Counter.Pointer);
        s.Synchronize();
        Span<long> count = stackalloc long[1];
        k.Counter.CopyTo<long>(count);
        return count[0];
    }

    // Kernels run in the region's own context; a stream of another GPU cannot launch them.
    private static CudaStream Aux(TransferRegion region, CudaStream stream) =>
        region.Context.Ordinal == stream.Context.Ordinal ? stream : throw new InvalidOperationException("pattern work must use a stream of the region's device");

    private static uint Blocks(long bytes, int max) => (uint)Math.Clamp((bytes / 4 + 255) / 256, 1, max);

    public static uint Hash(uint x)
    {
        x ^= x >> 16; x *= 0x7feb352dU;
        x ^= x >> 15; x *= 0x846ca68bU;
        x ^= x >> 16;
        return x;
    }

    public static unsafe void FillHost(IntPtr pointer, long bytes, uint seed)
    {
        uint* w = (uint*)pointer;
        long words = bytes / 4;
        for (long i = 0; i < words; i++) w[i] = Hash((uint)i ^ seed);
        byte* b = (byte*)pointer;
        for (long i = words * 4; i < bytes; i++) b[i] = PatternByte(i, seed);
    }

    public static unsafe long CountMismatchesHost(IntPtr pointer, long bytes, uint seed)
    {
        uint* w = (uint*)pointer;
        long words = bytes / 4, bad = 0;
        for (long i = 0; i < words; i++) if (w[i] != Hash((uint)i ^ seed)) bad += 4;
        byte* b = (byte*)pointer;
        for (long i = words * 4; i < bytes; i++) if (b[i] != PatternByte(i, seed)) bad++;
        return bad;
    }

    public static byte PatternByte(long i, uint seed) => (byte)(Hash((uint)(i / 4) ^ seed) >> (int)(8 * (i % 4)));

    public void Dispose()
    {
        foreach (var k in _perDevice.Values) k.Counter.Dispose();
        _perDevice.Clear();
    }
}
