using System.Runtime.InteropServices;
using Nnl.Engine.Cuda;

namespace Nnl.Engine.Tests.Cuda;

[Trait("Category", "Gpu")]
[Collection("Gpu")]
public class MemoryAndKernelTests
{
    private static uint Hash(uint x)
    {
        x ^= x >> 16; x *= 0x7feb352dU;
        x ^= x >> 15; x *= 0x846ca68bU;
        x ^= x >> 16;
        return x;
    }

    [GpuFact]
    public void FillKernelWritesTheHashPatternAndVerifyCountsCorruption()
    {
        var ctx = Gpu.Context;
        const long words = 1_000_003; // not a multiple of any block size
        uint seed = (uint)Random.Shared.Next();
        using var stream = new CudaStream(ctx);
        using var data = new DeviceBuffer(ctx, words * 4);
        using var mismatches = new DeviceBuffer(ctx, 8);
        var fill = KernelLibrary.Kernel(ctx, "pattern", "nnl_fill_pattern");
        var verify = KernelLibrary.Kernel(ctx, "pattern", "nnl_verify_pattern");
        fill.Launch(stream, 256, 256, 0, data.Pointer, words, seed);
        stream.Synchronize();

        var host = new uint[words];
        data.CopyTo<uint>(host);
        for (long i = 0; i < words; i += 9973) Assert.Equal(Hash((uint)i ^ seed), host[i]);
        Assert.Equal(Hash((uint)(words - 1) ^ seed), host[words - 1]);

        // Corrupt three words from the host; the kernel must count exactly three.
        foreach (long i in new long[] { 0, 500_000, words - 1 }) host[i] ^= 1;
        data.CopyFrom<uint>(host);
        mismatches.Fill(0);
        verify.Launch(stream, 128, 256, 0, data.Pointer, words, seed, mismatches.Pointer);
        stream.Synchronize();
        var count = new ulong[1];
        mismatches.CopyTo<ulong>(count);
        Assert.Equal(3UL, count[0]);
    }

    [GpuTheory]
    [InlineData(HostMemoryKind.Pageable)]
    [InlineData(HostMemoryKind.Pinned)]
    [InlineData(HostMemoryKind.WriteCombined)]
    [InlineData(HostMemoryKind.Registered)]
    [InlineData(HostMemoryKind.Mapped)]
    public void AsyncCopiesRoundTripThroughEveryHostMemoryKind(HostMemoryKind kind)
    {
        var ctx = Gpu.Context;
        const int bytes = 3 * 1024 * 1024 + 17;
        using var stream = new CudaStream(ctx);
        using var up = new HostBuffer(ctx, bytes, kind);
        using var down = new HostBuffer(ctx, bytes, HostMemoryKind.Pinned);
        using var device = new DeviceBuffer(ctx, bytes);
        var rng = new Random(kind.GetHashCode() + 7);
        rng.NextBytes(up.AsSpan(0, bytes));
        CudaCopy.HostToDevice(device.Pointer, up.Pointer, bytes, stream);
        CudaCopy.DeviceToHost(down.Pointer, device.Pointer, bytes, stream);
        stream.Synchronize();
        Assert.True(up.AsSpan(0, bytes).SequenceEqual(down.AsSpan(0, bytes)));
    }

    [GpuFact]
    public void AKernelReadsMappedHostMemoryDirectly()
    {
        var ctx = Gpu.Context;
        const long vectors = 100_001;
        using var stream = new CudaStream(ctx);
        using var host = new HostBuffer(ctx, vectors * 16, HostMemoryKind.Mapped);
        using var device = new DeviceBuffer(ctx, vectors * 16);
        new Random(5).NextBytes(host.AsSpan(0, (int)(vectors * 16)));
        KernelLibrary.Kernel(ctx, "pattern", "nnl_copy_words").Launch(stream, 120, 256, 0, host.DevicePointer, device.Pointer, vectors);
        stream.Synchronize();
        var back = new byte[vectors * 16];
        device.CopyTo<byte>(back);
        Assert.True(host.AsSpan(0, back.Length).SequenceEqual(back));
    }

    [GpuFact]
    public void EventsTimeWorkOnAStream()
    {
        var ctx = Gpu.Context;
        using var stream = new CudaStream(ctx);
        using var start = new CudaEvent(ctx);
        using var end = new CudaEvent(ctx);
        using var a = new DeviceBuffer(ctx, 256L << 20);
        using var b = new DeviceBuffer(ctx, 256L << 20);
        start.Record(stream);
        for (int i = 0; i < 4; i++) CudaCopy.DeviceToDevice(b.Pointer, a.Pointer, a.Bytes, stream);
        end.Record(stream);
        end.Synchronize();
        Assert.True(end.IsComplete);
        float ms = end.ElapsedMillisecondsSince(start);
        Assert.InRange(ms, 0.01f, 10_000f);
    }

    [GpuFact]
    public void VirtualMemoryMapsPhysicalChunksIntoOneContiguousRange()
    {
        var ctx = Gpu.Context;
        Assert.True(CudaVirtualMemory.IsSupported(ctx));
        long g = CudaVirtualMemory.Granularity(ctx);
        Assert.True(g >= 4096 && (g & (g - 1)) == 0, $"granularity {g}");
        ulong va = CudaVirtualMemory.Reserve(ctx, 3 * g);
        ulong[] chunks = [CudaVirtualMemory.Create(ctx, g), CudaVirtualMemory.Create(ctx, g), CudaVirtualMemory.Create(ctx, g)];
        try
        {
            // Map in reverse creation order: contiguity comes from the virtual range, not the chunks.
            for (int i = 0; i < 3; i++) CudaVirtualMemory.Map(ctx, va + (ulong)(i * g), g, chunks[2 - i]);
            using var stream = new CudaStream(ctx);
            long words = 3 * g / 4;
            uint seed = 0xC0FFEE;
            using var mismatches = new DeviceBuffer(ctx, 8);
            mismatches.Fill(0);
            KernelLibrary.Kernel(ctx, "pattern", "nnl_fill_pattern").Launch(stream, 256, 256, 0, va, words, seed);
            KernelLibrary.Kernel(ctx, "pattern", "nnl_verify_pattern").Launch(stream, 256, 256, 0, va, words, seed, mismatches.Pointer);
            stream.Synchronize();
            var count = new ulong[1];
            mismatches.CopyTo<ulong>(count);
            Assert.Equal(0UL, count[0]);
            for (int i = 0; i < 3; i++) CudaVirtualMemory.Unmap(ctx, va + (ulong)(i * g), g);
        }
        finally
        {
            foreach (var c in chunks) CudaVirtualMemory.Release(ctx, c);
            CudaVirtualMemory.Free(ctx, va, 3 * g);
        }
    }

    [GpuFact]
    public void CublasMatMulMatchesAFloat64Reference()
    {
        if (!Cublas.IsAvailable) Assert.Skip(Cublas.UnavailableReason!);
        var ctx = Gpu.Context;
        int m = 5, n = 37, k = 129;
        var rng = new Random(11);
        float[] a = Enumerable.Range(0, m * k).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        foreach (bool outIn in new[] { true, false })
        {
            float[] w = Enumerable.Range(0, n * k).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
            using var blas = new Cublas(ctx);
            using var stream = new CudaStream(ctx);
            using var da = new DeviceBuffer(ctx, a.Length * 4);
            using var dw = new DeviceBuffer(ctx, w.Length * 4);
            using var dc = new DeviceBuffer(ctx, m * n * 4);
            da.CopyFrom<float>(a);
            dw.CopyFrom<float>(w);
            blas.MatMul(stream, da.Pointer, Cublas.DataType.F32, dw.Pointer, Cublas.DataType.F32, outIn, dc.Pointer, Cublas.DataType.F32, m, n, k);
            stream.Synchronize();
            var c = new float[m * n];
            dc.CopyTo<float>(c);
            double err = 0, norm = 0;
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                {
                    double r = 0;
                    for (int p = 0; p < k; p++) r += (double)a[i * k + p] * (outIn ? w[j * k + p] : w[p * n + j]);
                    err += Math.Pow(c[i * n + j] - r, 2);
                    norm += r * r;
                }
            Assert.True(Math.Sqrt(err / norm) < 1e-3, $"relative error {Math.Sqrt(err / norm)} (outIn={outIn})");
        }
    }
}
