using Nnl.Engine.Commands;
using Nnl.Engine.Cuda;
using Nnl.Engine.Transfer;

namespace Nnl.Engine.Tests.Transfer;

/// <summary>The transfer GPU tests measure free device memory, so nothing else may run beside them.</summary>
[CollectionDefinition(nameof(TransferGpuCollection), DisableParallelization = true)]
public sealed class TransferGpuCollection;

[Trait("Category", "Gpu")]
[Collection(nameof(TransferGpuCollection))]
public class TransferGpuTests
{
    // Awkward sizes: under a page, not a multiple of 4 or 16, a few MB plus a tail.
    private static readonly long[] Sizes = [1000, 3_000_001, 4_194_304 + 12];

    public static TheoryData<TransferDirection, HostMemoryKind, TransferMechanism> HostCases()
    {
        var data = new TheoryData<TransferDirection, HostMemoryKind, TransferMechanism>();
        foreach (var d in new[] { TransferDirection.HostToDevice, TransferDirection.DeviceToHost, TransferDirection.Bidirectional })
        foreach (var m in Enum.GetValues<HostMemoryKind>())
        foreach (var k in Enum.GetValues<TransferMechanism>())
            if (!(m == HostMemoryKind.Pageable && k == TransferMechanism.Kernel)) data.Add(d, m, k);
        return data;
    }

    private static void AssertConsistent(NnlTransferResult r, int bytesCountedPerByte = 1)
    {
        Assert.True(r.Verified, $"{r.Direction} {r.Leg} {r.HostMemory} {r.Mechanism} {r.Bytes}: data did not arrive intact");
        Assert.True(double.IsFinite(r.MaxGBps) && r.MinGBps > 0, $"GB/s {r.MinGBps}..{r.MaxGBps}");
        Assert.True(r.MinGBps <= r.MedianGBps && r.MedianGBps <= r.MaxGBps);
        Assert.True(r.MinMicroseconds <= r.MedianMicroseconds && r.MedianMicroseconds <= r.MaxMicroseconds);
        // Odd iteration counts: the median sample gives both medians, so they must agree.
        Assert.Equal(bytesCountedPerByte * r.Bytes / (r.MedianMicroseconds * 1e3), r.MedianGBps, r.MedianGBps * 1e-6);
        Assert.Equal(0, r.Device);
        Assert.False(string.IsNullOrEmpty(r.DeviceName));
    }

    [GpuTheory]
    [MemberData(nameof(HostCases))]
    public void EveryHostDirectionMemoryAndMechanismMovesTheDataIntact(TransferDirection direction, HostMemoryKind memory, TransferMechanism mechanism)
    {
        var sink = new CollectingSink();
        new MeasureTransferCommand
        {
            Direction = [direction], HostMemory = [memory], Mechanism = [mechanism], Size = Sizes,
            Iterations = 3, CopiesPerSample = 2, WarmupCopies = 1,
        }.Execute(sink);
        var results = sink.RecordsOf<NnlTransferResult>().ToArray();
        int legs = direction == TransferDirection.Bidirectional ? 2 : 1;
        Assert.Equal(Sizes.Length * legs, results.Length);
        Assert.Equal(Sizes, results.Select(r => r.Bytes).Distinct());
        foreach (var r in results)
        {
            AssertConsistent(r);
            Assert.Equal((direction, memory, mechanism, 3, 2), (r.Direction, r.HostMemory!.Value, r.Mechanism, r.Iterations, r.CopiesPerSample));
        }
        if (direction == TransferDirection.Bidirectional)
            Assert.Equal([TransferDirection.HostToDevice, TransferDirection.DeviceToHost], results.Select(r => r.Leg).Distinct().Order());
        else Assert.All(results, r => Assert.Equal(direction, r.Leg));
        Assert.True(sink.Progress[^1].Completed);
        Assert.Empty(sink.Warnings);
    }

    [GpuTheory]
    [InlineData(TransferMechanism.CopyEngine)]
    [InlineData(TransferMechanism.Kernel)]
    public void DeviceToDeviceCountsReadPlusWrittenAndVerifies(TransferMechanism mechanism)
    {
        var sink = new CollectingSink();
        new MeasureTransferCommand { Direction = [TransferDirection.DeviceToDevice], Mechanism = [mechanism], Size = Sizes, Iterations = 3, CopiesPerSample = 4 }.Execute(sink);
        var results = sink.RecordsOf<NnlTransferResult>().ToArray();
        Assert.Equal(Sizes.Length, results.Length);
        foreach (var r in results)
        {
            AssertConsistent(r, bytesCountedPerByte: 2);
            Assert.Null(r.HostMemory);
        }
    }

    [GpuTheory]
    [InlineData(TransferMechanism.CopyEngine, null)]
    [InlineData(TransferMechanism.CopyEngine, 1_000_000L)]
    [InlineData(TransferMechanism.Kernel, 65_536L)]
    public void ManyStreamsSplitTheTransferIntoVerifiedChunks(TransferMechanism mechanism, long? chunk)
    {
        var sink = new CollectingSink();
        new MeasureTransferCommand
        {
            Direction = [TransferDirection.HostToDevice, TransferDirection.DeviceToHost], Mechanism = [mechanism], Size = [10_000_003],
            Streams = 4, ChunkSize = chunk, Iterations = 3, CopiesPerSample = 2,
        }.Execute(sink);
        var results = sink.RecordsOf<NnlTransferResult>().ToArray();
        Assert.Equal(2, results.Length);
        foreach (var r in results)
        {
            AssertConsistent(r);
            Assert.Equal(4, r.Streams);
            Assert.Equal(chunk ?? 2_502_656, r.ChunkBytes); // 10,000,003 / 4 rounded up to 4 KiB
        }
    }

    [GpuFact]
    public void TheTensorPatternComparesSeparatePageableTensorsWithOnePackedPinnedBuffer()
    {
        var rng = new Random(71);
        long[] tensors = Enumerable.Range(0, 6).Select(i => (long)rng.Next(1, 3_000_000)).Append(4096).ToArray();
        var sink = new CollectingSink();
        new MeasureTransferCommand { TensorSizes = tensors, Iterations = 3, CopiesPerSample = 2 }.Execute(sink);
        var r = sink.RecordsOf<NnlTransferResult>().ToArray();
        Assert.Equal(3, r.Length);
        Assert.All(r, x => { AssertConsistent(x); Assert.Equal(tensors.Sum(), x.Bytes); Assert.Equal("custom", x.TensorSet); });
        Assert.Equal((HostMemoryKind.Pageable, tensors.Length), (r[0].HostMemory!.Value, r[0].TensorCount));
        Assert.Equal((HostMemoryKind.Pinned, tensors.Length), (r[1].HostMemory!.Value, r[1].TensorCount));
        Assert.Equal((HostMemoryKind.Pinned, 1), (r[2].HostMemory!.Value, r[2].TensorCount));
        Assert.Equal(r[2].MedianGBps / r[0].MedianGBps, r[2].SpeedupOverSeparate!.Value, 1e-9);
        Assert.Null(r[0].SpeedupOverSeparate);
    }

    [GpuFact]
    public void AnUnknownDeviceIsCudaInvalidDevice()
    {
        var e = Assert.Throws<NnlCudaException>(() => new MeasureTransferCommand { Device = 999 }.Execute(new CollectingSink()));
        Assert.Equal("CUDA_ERROR_INVALID_DEVICE", e.ErrorName);
        Assert.Equal("CudaInvalidDevice", e.ErrorId);
    }

    [GpuFact]
    public void ASizeLargerThanFreeMemoryIsRefusedBeforeAllocating()
    {
        long free = Gpu.Context.MemoryInfo().FreeBytes;
        var e = Assert.Throws<NnlTransferException>(() =>
            new MeasureTransferCommand { Direction = [TransferDirection.HostToDevice], Size = [4096, free + (1L << 30)] }.Execute(new CollectingSink()));
        Assert.Equal("TransferSizeExceedsFreeMemory", e.ErrorId);
        Assert.Equal("LimitsExceeded", e.Category);
        // Device-to-device needs two buffers: a size just over half of free memory is already too large.
        var d2d = Assert.Throws<NnlTransferException>(() =>
            new MeasureTransferCommand { Direction = [TransferDirection.DeviceToDevice], Size = [free / 2 + (64L << 20)] }.Execute(new CollectingSink()));
        Assert.Equal("TransferSizeExceedsFreeMemory", d2d.ErrorId);
    }

    [GpuFact]
    public void PeerToPeerOnOneGpuIsAClearErrorAndWithTwoItMeasures()
    {
        var command = new MeasureTransferCommand { Direction = [TransferDirection.PeerToPeer], Size = [3_000_001], Iterations = 3, CopiesPerSample = 2 };
        if (CudaDriver.DeviceCount < 2)
        {
            var e = Assert.Throws<NnlTransferException>(() => command.Execute(new CollectingSink()));
            Assert.Equal("PeerDeviceUnavailable", e.ErrorId);
            return;
        }
        var sink = new CollectingSink();
        command.Execute(sink);
        var r = sink.RecordsOf<NnlTransferResult>().ToArray();
        Assert.Contains(r, x => x.PeerAccess == false);
        Assert.All(r, x => { AssertConsistent(x); Assert.Equal(1, x.PeerDevice); });
    }

    [GpuFact]
    public void CtrlCStopsTheSweepAndReturnsEveryByteOfDeviceMemory()
    {
        // Warm the context and kernels first, so what stays allocated afterwards is only the run's.
        new MeasureTransferCommand { Size = [4096], Iterations = 1, CopiesPerSample = 1 }.Execute(new CollectingSink());
        long before = Gpu.Context.MemoryInfo().FreeBytes;
        using var cts = new CancellationTokenSource();
        var sink = new CollectingSink(cts.Token, onRecord: _ => cts.Cancel());
        Assert.ThrowsAny<OperationCanceledException>(() =>
            new MeasureTransferCommand { Shmoo = true, Direction = [TransferDirection.Bidirectional], Iterations = 3 }.Execute(sink));
        Assert.Equal(2, sink.RecordsOf<NnlTransferResult>().Count()); // the first point's two legs, then stopped
        long after = Gpu.Context.MemoryInfo().FreeBytes;
        Assert.True(Math.Abs(before - after) <= 4L << 20, $"free memory {before:N0} before, {after:N0} after");
    }

    [GpuFact]
    public void DeviceFillMatchesTheHostPatternAndVerifyCountsCorruption()
    {
        var ctx = Gpu.Context;
        const long bytes = 1_000_003;
        uint seed = (uint)new Random(13).Next();
        using var pattern = new TransferPattern();
        using var stream = new CudaStream(ctx);
        using var device = new DeviceBuffer(ctx, bytes);
        var region = TransferRegion.Of(device);
        pattern.Fill(region, 0, bytes, seed, stream);
        Assert.Equal(0, pattern.CountMismatches(region, 0, bytes, seed, stream));
        var host = new byte[bytes];
        device.CopyTo<byte>(host);
        unsafe
        {
            fixed (byte* h = host) Assert.Equal(0, TransferPattern.CountMismatchesHost((IntPtr)h, bytes, seed));
        }
        host[500_000] ^= 1;     // inside a word: counts 4
        host[bytes - 1] ^= 1;   // the tail byte: counts 1
        device.CopyFrom<byte>(host);
        Assert.Equal(5, pattern.CountMismatches(region, 0, bytes, seed, stream));
        // A stale copy (another seed's data) is caught too.
        Assert.True(pattern.CountMismatches(region, 0, bytes, seed + 1, stream) > bytes / 2);
    }
}
