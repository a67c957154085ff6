using Nnl.Engine.Cuda;
using Nnl.Engine.Models;

namespace Nnl.Engine.Runtime.Cuda;

/// <summary>
/// The one-token GEMV that holds its slice of x in registers (kernels/gemv_xreg.cu): a warp owns a
/// fixed slice of the columns, so each 16-byte weight vector costs a load, its conversions and its
/// FMAs, with no load of x.
/// </summary>
public sealed partial class CudaBackend
{
    /// <summary>16-byte vectors of its slice of a row one lane covers (NNL_XR_VPL; KernelSizesTests checks they agree).</summary>
    internal const int RegisterGemvVectorsPerLane = 4;

    /// <summary>Most slices a row splits into (a block of 256 threads holds one warp of each).</summary>
    internal const int RegisterGemvMaxSlices = 8;

    private KernelHandle? _registerGemv;

    /// <summary>
    /// Whether one-token products take the register GEMV where it reads them (else, and where it
    /// cannot, the row kernels chosen by shape). The NNL_REGISTER_GEMV environment variable set to 0
    /// turns the default off.
    /// </summary>
    public bool PreferRegisterGemv { get; set; } = Environment.GetEnvironmentVariable("NNL_REGISTER_GEMV") != "0";

    /// <summary>Blocks per SM of the register GEMV (benchmarks vary it; NNL_XREG_BLOCKS_PER_SM sets the default).</summary>
    public int RegisterGemvBlocksPerSm { get; set; } =
        int.TryParse(Environment.GetEnvironmentVariable("NNL_XREG_BLOCKS_PER_SM"), out int b) && b > 0 ? b : 3;

    /// <summary>
    /// Whether the register GEMV's grid is the fewest blocks that keep the most rows a warp takes
    /// (<see cref="RegisterGemvBlocks"/>); else as many as fit. The NNL_XREG_BALANCE environment
    /// variable set to 0 turns the default off.
    /// </summary>
    public bool BalanceRegisterGemvRows { get; set; } = Environment.GetEnvironmentVariable("NNL_XREG_BALANCE") != "0";

    /// <summary>Products that ran on the register GEMV (tests check that it, not a fallback, ran).</summary>
    public long RegisterGemvLaunches { get; private set; }

    /// <summary>
    /// Blocks of a register GEMV over <paramref name="rows"/> rows whose blocks hold
    /// <paramref name="warpsPerSlice"/> warps a slice, at most <paramref name="maxBlocks"/> (all resident
    /// at once). Every block starts together and the kernel ends with its slowest warp, so what counts is
    /// the most rows one warp takes; as many blocks as fit leave a few blocks a row more than the rest
    /// (GPT-2-XL's c_attn: 4,800 rows over 396 blocks of four warps a slice give 48 blocks 13 rows, so
    /// one warp a slice of each takes four rows while the others take three). Balanced, the grid is the
    /// fewest blocks that keep that most (c_attn 300 blocks, four rows every warp; attention's c_proj
    /// 200, the MLP's 320): fewer loads compete and no warp waits on more than its share. GPT-2-XL 1.522
    /// against 1.550 ms/token, Llama-2-13B 7.211 against 7.201 on the H200, 2026-11-22.
    /// </summary>
    internal static int RegisterGemvBlocks(int rows, int warpsPerSlice, int maxBlocks, bool balance)
    {
        long warps = Math.Max(1, warpsPerSlice);
        int blocks = (int)Math.Clamp((rows + warps - 1) / warps, 1, Math.Max(1, maxBlocks));
        if (!balance) return blocks;
        long rowsPerWarp = (rows + warps * blocks - 1) / (warps * blocks);
        return (int)Math.Max(1, (rows + warps * rowsPerWarp - 1) / (warps * rowsPerWarp));
    }

    /// <summary>
    /// Slices of a row of <paramref name="vectors"/> 16-byte vectors: as few as hold it at
    /// <see cref="RegisterGemvVectorsPerLane"/> vectors a lane (more than <see cref="RegisterGemvMaxSlices"/>:
    /// the kernel cannot take the row), except that a row of more slices than half a block's warps takes
    /// them all: a block holds one warp of each slice, so 5 to 7 slices left 1 to 3 of its 8 warps out;
    /// 8 shorter slices put them to work (GPT-2-XL's MLP c_proj, 800 vectors: 1.458 against 1.464
    /// ms/token; Llama-2-13B's 5120-wide products: 7.18 against 7.21, on the H200, 2026-11-22).
    /// </summary>
    internal static int RegisterGemvSlices(int vectors)
    {
        int slices = (vectors + 32 * RegisterGemvVectorsPerLane - 1) / (32 * RegisterGemvVectorsPerLane);
        return slices > RegisterGemvMaxSlices / 2 && slices < RegisterGemvMaxSlices ? RegisterGemvMaxSlices : slices;
    }

    /// <summary>The register GEMV's launch for one product: slices a row, warps a block, blocks, dynamic shared memory.</summary>
    private readonly record struct RegisterGemvGrid(int Slices, int Warps, int Blocks, uint SharedBytes);

    /// <summary>
    /// The register GEMV's launch for [1, k] × [n, k]ᵀ when it reads it: k a whole number of 16-byte
    /// vectors of at most <see cref="RegisterGemvMaxSlices"/> slices, weights and input 16-byte aligned;
    /// null otherwise.
    /// </summary>
    private RegisterGemvGrid? RegisterGemvGridFor(CudaTensor w, CudaTensor x, int n, int k)
    {
        int width = 16 / w.DType.ElementBytes();
        if (k % width != 0 || w.Pointer % 16 != 0 || x.Pointer % 16 != 0) return null;
        int slices = RegisterGemvSlices(k / width);
        if (slices > RegisterGemvMaxSlices) return null;
        int warps = slices * Math.Max(1, RegisterGemvMaxSlices / slices);
        int perSlice = warps / slices;
        int blocks = RegisterGemvBlocks(n, perSlice, Math.Max(1, RegisterGemvBlocksPerSm) * _sms, BalanceRegisterGemvRows);
        int rowsPerBlock = (n + blocks - 1) / blocks;
        uint shared = slices > 1 ? (uint)(rowsPerBlock * slices * sizeof(float)) : 0u;
        return shared > SharedBytesWithoutOptIn ? null : new RegisterGemvGrid(slices, warps, blocks, shared);
    }

    /// <summary>Launches the register GEMV when it reads this product (one token, <see cref="RegisterGemvGridFor"/>); false launches nothing.</summary>
    private bool TryLaunchRegisterGemv(CudaTensor w, CudaTensor x, ulong bias, CudaTensor y, int rows, int n, int k, int epilogue)
    {
        if (rows != 1 || RegisterGemvGridFor(w, x, n, k) is not { } grid) return false;
        _registerGemv ??= new KernelHandle(Context, "gemv_xreg", "nnl_gemv_xreg");
        RegisterGemvLaunches++;
        LaunchWithSharedMemory(_registerGemv.For(w.DType), ((uint)grid.Blocks, 1, 1), ((uint)(32 * grid.Warps), 1, 1), grid.SharedBytes,
            w.Pointer, x.Pointer, bias, y.Pointer, n, k, grid.Slices, epilogue);
        return true;
    }
}
