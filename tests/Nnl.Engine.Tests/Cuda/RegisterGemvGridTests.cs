using Nnl.Engine.Runtime.Cuda;

namespace Nnl.Engine.Tests.Cuda;

/// <summary>
/// The register GEMV's grid (no GPU: the host's arithmetic). The kernel (kernels/gemv_xreg.cu) gives
/// block b rows [n·b/G, n·(b+1)/G) and its warps of one slice take them in turn; the kernel ends with
/// the warp that takes the most. Balanced, the grid is never larger, never gives a warp more rows than
/// the grid of as many blocks as fit, and holds every row.
/// </summary>
public class RegisterGemvGridTests
{
    /// <summary>The most rows one warp takes, by the kernel's own split of rows over blocks and warps.</summary>
    private static int MostRowsAWarp(int rows, int warpsPerSlice, int blocks)
    {
        int most = 0;
        for (int b = 0; b < blocks; b++)
        {
            int first = (int)((long)rows * b / blocks), last = (int)((long)rows * (b + 1) / blocks);
            most = Math.Max(most, (last - first + warpsPerSlice - 1) / warpsPerSlice);
        }
        return most;
    }

    [Theory]
    [InlineData(4800, 4, 300)]   // c_attn: four rows every warp (three or four in 396 blocks)
    [InlineData(1600, 4, 200)]   // attention's c_proj: two rows every warp (one or two)
    [InlineData(6400, 4, 320)]   // c_fc: five (four or five)
    [InlineData(1600, 1, 320)]   // the MLP's c_proj, eight slices of one warp: five (four or five)
    public void GptTwoXlsProductsGetTheFewestBlocksThatKeepTheMostRowsAWarp(int rows, int warpsPerSlice, int balanced)
    {
        const int maxBlocks = 3 * 132;   // three blocks an SM of the H200
        int full = CudaBackend.RegisterGemvBlocks(rows, warpsPerSlice, maxBlocks, balance: false);
        Assert.Equal(maxBlocks, full);
        Assert.Equal(balanced, CudaBackend.RegisterGemvBlocks(rows, warpsPerSlice, maxBlocks, balance: true));
        Assert.Equal(MostRowsAWarp(rows, warpsPerSlice, full), MostRowsAWarp(rows, warpsPerSlice, balanced));
        Assert.True(MostRowsAWarp(rows, warpsPerSlice, balanced - 1) > MostRowsAWarp(rows, warpsPerSlice, balanced), "one block fewer would do as well");
    }

    [Fact]
    public void ABalancedGridIsNeverLargerNorSlowerAndHoldsEveryRow()
    {
        var rng = new Random(97);
        for (int i = 0; i < 2000; i++)
        {
            int rows = i < 200 ? i + 1 : rng.Next(1, 60_000);
            int warpsPerSlice = rng.Next(1, 9);
            int maxBlocks = rng.Next(1, 1100);
            int full = CudaBackend.RegisterGemvBlocks(rows, warpsPerSlice, maxBlocks, balance: false);
            int balanced = CudaBackend.RegisterGemvBlocks(rows, warpsPerSlice, maxBlocks, balance: true);
            string what = $"rows {rows}, {warpsPerSlice} warps a slice, at most {maxBlocks} blocks";
            Assert.True(full >= 1 && full <= maxBlocks && full <= (rows + warpsPerSlice - 1) / warpsPerSlice, $"{what}: {full} blocks unbalanced");
            Assert.True(balanced >= 1 && balanced <= full, $"{what}: {balanced} blocks balanced, {full} unbalanced");
            Assert.Equal(MostRowsAWarp(rows, warpsPerSlice, full), MostRowsAWarp(rows, warpsPerSlice, balanced));
            Assert.True((long)balanced * warpsPerSlice * MostRowsAWarp(rows, warpsPerSlice, balanced) >= rows, $"{what}: rows left over");
        }
    }

    /// <summary>
    /// (16-byte vectors a row, slices): as few slices as hold the row at four vectors a lane (GPT-2-XL's
    /// 1600-wide rows: two), except that 5 to 7 take all 8 of a block's warps (GPT-2-XL's 6400-wide rows,
    /// 800 vectors; Llama-2-13B's 5120-wide, 640); more than 8 the kernel cannot take.
    /// </summary>
    [Theory]
    [InlineData(1, 1)]
    [InlineData(128, 1)]
    [InlineData(129, 2)]
    [InlineData(200, 2)]
    [InlineData(512, 4)]
    [InlineData(513, 8)]
    [InlineData(640, 8)]
    [InlineData(800, 8)]
    [InlineData(1024, 8)]
    [InlineData(1025, 9)]
    public void ARowSplitsIntoSlicesThatHoldItAndKeepTheBlockBusy(int vectors, int slices)
    {
        int got = CudaBackend.RegisterGemvSlices(vectors);
        Assert.Equal(slices, got);
        if (got <= CudaBackend.RegisterGemvMaxSlices)
            Assert.True((vectors + got - 1) / got <= 32 * CudaBackend.RegisterGemvVectorsPerLane, $"{vectors} vectors in {got} slices: a slice longer than a warp holds");
    }
}
