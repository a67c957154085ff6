using Nnl.Engine.Transfer;

namespace Nnl.Engine.Tests.Transfer;

public class TransferSizesTests
{
    private static IEnumerable<long> By(long from, long to, long step)
    {
        for (long s = from; s <= to; s += step) yield return s;
    }

    [Fact]
    public void ShmooIsBandwidthTestsEightyOneDecimalSizes()
    {
        const long KB = 1000, MB = 1_000_000;
        // Written out segment by segment, as the issue lists them.
        long[] expected = By(1 * KB, 20 * KB, 1 * KB).Concat(By(22 * KB, 50 * KB, 2 * KB)).Concat(By(60 * KB, 100 * KB, 10 * KB))
            .Concat(By(200 * KB, 1 * MB, 100 * KB)).Concat(By(2 * MB, 16 * MB, 1 * MB)).Concat(By(18 * MB, 32 * MB, 2 * MB))
            .Concat(By(36 * MB, 68 * MB, 4 * MB)).ToArray();
        var shmoo = TransferSizes.Shmoo;
        Assert.Equal(81, shmoo.Count);
        Assert.Equal(1000, shmoo[0]);
        Assert.Equal(68_000_000, shmoo[^1]);
        Assert.Equal(expected, shmoo);
        Assert.All(shmoo.Zip(shmoo.Skip(1)), p => Assert.True(p.First < p.Second, $"{p.First} then {p.Second}"));
        Assert.DoesNotContain(21_000, shmoo);
        Assert.DoesNotContain(64L << 20, shmoo); // decimal, not binary
    }

    [Fact]
    public void ExtendedShmooContinuesMonotonicallyToOneGigabyte()
    {
        var ext = TransferSizes.ExtendedShmoo;
        Assert.Equal(TransferSizes.Shmoo, ext.Take(81));
        Assert.Equal(1_000_000_000, ext[^1]);
        Assert.Equal(80_000_000, ext[81]);
        Assert.All(ext.Zip(ext.Skip(1)), p => Assert.True(p.First < p.Second));
        Assert.Contains(256_000_000, ext);
        Assert.Contains(512_000_000, ext);
        Assert.Equal(98, ext.Count);
    }

    [Fact]
    public void RangeIncludesTheEndWhenItFallsOnAStep()
    {
        var rng = new Random(3);
        for (int trial = 0; trial < 20; trial++)
        {
            long start = rng.Next(1, 1_000_000), step = rng.Next(1, 100_000), n = rng.Next(1, 50);
            long end = start + step * (n - 1) + rng.Next(0, (int)step); // end between two steps
            var sizes = TransferSizes.Range(start, end, step);
            Assert.Equal(n, sizes.Count);
            Assert.Equal(start, sizes[0]);
            Assert.True(sizes[^1] <= end && sizes[^1] + step > end);
            Assert.All(sizes.Zip(sizes.Skip(1)), p => Assert.Equal(step, p.Second - p.First));
        }
        Assert.Equal([5L], TransferSizes.Range(5, 5, 1));
    }

    [Theory]
    [InlineData(0, 10, 1)]
    [InlineData(-5, 10, 1)]
    [InlineData(10, 5, 1)]
    [InlineData(1, 10, 0)]
    [InlineData(1, 10, -2)]
    [InlineData(1, 10_000_000, 1)]
    public void BadRangesAreRejected(long start, long end, long step)
    {
        var e = Assert.Throws<NnlArgumentException>(() => TransferSizes.Range(start, end, step));
        Assert.Equal("Range", e.ParameterName);
        Assert.Equal("InvalidArgument", e.ErrorId);
    }

    [Fact]
    public void TheLlamaBlockHasNineFp16TensorsOfTheLayersShapes()
    {
        var block = TensorSets.Get("LLAMA-2-7B-block");
        Assert.Equal(9, block.Count);
        Assert.Equal(2L * (4 * 4096 * 4096 + 3 * 11008 * 4096 + 2 * 4096), block.Sum());
        Assert.Equal(4, block.Count(b => b == 2L * 4096 * 4096));
        Assert.Equal(3, block.Count(b => b == 2L * 11008 * 4096));
        Assert.Equal(2, block.Count(b => b == 2L * 4096));
        Assert.Throws<NnlArgumentException>(() => TensorSets.Get("gpt-9"));
    }

    [Fact]
    public void PackedTensorOffsetsAreAlignedAndDoNotOverlap()
    {
        var rng = new Random(17);
        var sizes = Enumerable.Range(0, 13).Select(_ => (long)rng.Next(1, 100_000)).ToArray();
        var offsets = TensorPatternSweep.PackedOffsets(sizes, out long packed);
        Assert.Equal(0, offsets[0]);
        for (int i = 0; i < sizes.Length; i++)
        {
            Assert.Equal(0, offsets[i] % 256);
            long end = offsets[i] + sizes[i];
            Assert.True(end <= (i + 1 < sizes.Length ? offsets[i + 1] : packed));
            if (i + 1 < sizes.Length) Assert.True(offsets[i + 1] - end < 256);
        }
        Assert.True(packed >= sizes.Sum());
    }

    [Fact]
    public void ChunksCoverTheTransferExactlyInAlignedPieces()
    {
        var rng = new Random(29);
        for (int trial = 0; trial < 30; trial++)
        {
            long bytes = rng.NextInt64(1, 200_000_000);
            int streams = rng.Next(1, 9);
            long? chunk = trial % 2 == 0 ? null : rng.NextInt64(1, 10_000_000);
            var pieces = TransferLane.Chunks(default, default, bytes, streams, chunk);
            long at = 0;
            foreach (var p in pieces)
            {
                Assert.Equal(at, p.SourceOffset);
                Assert.Equal(at, p.DestinationOffset);
                Assert.True(p.Bytes > 0);
                at += p.Bytes;
            }
            Assert.Equal(bytes, at);
            if (chunk is null)
            {
                Assert.True(pieces.Count <= streams);
                Assert.All(pieces.SkipLast(1), p => Assert.Equal(0, p.Bytes % 4096));
            }
            else Assert.All(pieces.SkipLast(1), p => Assert.Equal(Math.Min(chunk.Value, bytes), p.Bytes));
        }
    }
}
