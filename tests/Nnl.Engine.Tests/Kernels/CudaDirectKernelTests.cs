using Nnl.Engine.Cuda;
using Nnl.Engine.Runtime.Cuda;

namespace Nnl.Engine.Tests.Kernels;

/// <summary>Kernels the backend's operation table does not reach (conversions, transpose) and the allocator.</summary>
[Trait("Category", "Gpu")]
[Collection("Gpu")]
public class CudaDirectKernelTests
{
    [GpuTheory]
    [MemberData(nameof(KernelShapes.Elementwise), MemberType = typeof(KernelShapes))]
    public void ConversionsRoundLikeTheHostFormats(int n)
    {
        var ctx = Gpu.Context;
        using var stream = new CudaStream(ctx);
        var rng = new Random(n);
        // Wide range (subnormal to overflow for fp16) plus exact ties.
        var values = Enumerable.Range(0, n).Select(i => (float)((rng.NextDouble() * 2 - 1) * Math.Pow(2, rng.Next(-30, 20)))).ToArray();
        using var f32 = new DeviceBuffer(ctx, n * 4L);
        using var u16 = new DeviceBuffer(ctx, n * 2L);
        using var back = new DeviceBuffer(ctx, n * 4L);
        f32.CopyFrom<float>(values);
        uint blocks = (uint)Math.Min((n + 255) / 256, 1024);

        KernelLibrary.Kernel(ctx, "convert", "nnl_convert_f32_f16").Launch(stream, blocks, 256, 0, f32.Pointer, u16.Pointer, (ulong)n);
        KernelLibrary.Kernel(ctx, "convert", "nnl_convert_f16_f32").Launch(stream, blocks, 256, 0, u16.Pointer, back.Pointer, (ulong)n);
        stream.Synchronize();
        var halves = new ushort[n];
        var widened = new float[n];
        u16.CopyTo<ushort>(halves);
        back.CopyTo<float>(widened);
        for (int i = 0; i < n; i++)
        {
            Assert.Equal(BitConverter.HalfToUInt16Bits((Half)values[i]), halves[i]);
            Assert.Equal((float)(Half)values[i], widened[i]);
        }

        KernelLibrary.Kernel(ctx, "convert", "nnl_convert_f32_bf16").Launch(stream, blocks, 256, 0, f32.Pointer, u16.Pointer, (ulong)n);
        KernelLibrary.Kernel(ctx, "convert", "nnl_convert_bf16_f32").Launch(stream, blocks, 256, 0, u16.Pointer, back.Pointer, (ulong)n);
        stream.Synchronize();
        u16.CopyTo<ushort>(halves);
        back.CopyTo<float>(widened);
        for (int i = 0; i < n; i++)
        {
            Assert.Equal(KernelData.FloatToBF16(values[i]), halves[i]);
            Assert.Equal(KernelData.BF16ToFloat(halves[i]), widened[i]);
        }
    }

    [GpuTheory]
    [InlineData(1, 1)]
    [InlineData(33, 65)]
    [InlineData(100, 7)]
    [InlineData(1600, 4800)]
    public void TransposeTurnsConv1DIntoLinearLayout(int rows, int cols)
    {
        var ctx = Gpu.Context;
        using var stream = new CudaStream(ctx);
        var rng = new Random(rows * 31 + cols);
        var src = Enumerable.Range(0, rows * cols).Select(_ => (ushort)rng.Next(65536)).ToArray();
        using var a = new DeviceBuffer(ctx, src.Length * 2L);
        using var b = new DeviceBuffer(ctx, src.Length * 2L);
        a.CopyFrom<ushort>(src);
        KernelLibrary.Kernel(ctx, "transpose", "nnl_transpose_u16")
            .Launch(stream, ((uint)((cols + 31) / 32), (uint)Math.Min((rows + 31) / 32, 65535), 1), (32, 8, 1), 0, a.Pointer, b.Pointer, rows, cols);
        stream.Synchronize();
        var dst = new ushort[src.Length];
        b.CopyTo<ushort>(dst);
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
                if (dst[c * rows + r] != src[r * cols + c]) Assert.Fail($"[{r},{c}] of [{rows},{cols}] landed wrong");
    }

    [GpuFact]
    public void CachingAllocatorReusesFreedBlocksOfTheSameRoundedSize()
    {
        using var allocator = new CachingDeviceAllocator(Gpu.Context);
        var a = allocator.Allocate(1000, "a");
        long reserved = allocator.ReservedBytes;
        allocator.Free(a);
        var b = allocator.Allocate(900, "b");                 // same 1024-byte granule
        Assert.Equal(a.Pointer, b.Pointer);
        Assert.Equal(reserved, allocator.ReservedBytes);
        var c = allocator.Allocate(5000, "c");
        Assert.NotEqual(b.Pointer, c.Pointer);
        Assert.Throws<InvalidOperationException>(() => { allocator.Free(c); allocator.Free(c); });
        allocator.Free(b);
        allocator.Trim();
        Assert.Equal(0, allocator.ReservedBytes);
    }
}
