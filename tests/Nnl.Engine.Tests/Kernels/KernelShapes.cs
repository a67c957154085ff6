namespace Nnl.Engine.Tests.Kernels;

/// <summary>
/// The shapes every kernel is tried on: the model sizes that matter (GPT-2 768/1600, Llama 4096/5120,
/// head_dim 64/128) and awkward ones — one element, odd sizes, sizes one past a tile or a vector
/// width, k not a multiple of 8 (the GEMV's scalar path), grouped-query ratios.
/// </summary>
public static class KernelShapes
{
    /// <summary>Elementwise lengths (n).</summary>
    public static TheoryData<int> Elementwise => new() { 1, 7, 1000, 4097, 300_001 };

    /// <summary>Row operations (rows, dim): norms, softmax, argmax, bias. 200 rows exceed an H200's 132 SMs, so the
    /// block-per-row kernels run with their many-rows block size too.</summary>
    public static TheoryData<int, int> Rows => new()
    {
        { 1, 1 }, { 3, 7 }, { 5, 768 }, { 2, 1600 }, { 1, 5120 }, { 4, 4097 }, { 67, 33 }, { 200, 65 },
    };

    /// <summary>Decode GEMV (nOut, k, nTok).</summary>
    public static TheoryData<int, int, int> Gemv => new()
    {
        { 1, 1, 1 }, { 7, 13, 1 }, { 33, 64, 3 }, { 257, 1000, 2 }, { 50, 8, 4 }, { 511, 2056, 5 },
        { 1024, 4096, 1 }, { 129, 1001, 6 }, { 3, 6400, 1 }, { 4099, 768, 1 },
    };

    /// <summary>Prefill GEMM (m, n, k).</summary>
    public static TheoryData<int, int, int> Gemm => new()
    {
        { 1, 1, 1 }, { 3, 65, 17 }, { 64, 64, 64 }, { 130, 97, 200 }, { 17, 300, 1024 }, { 65, 129, 15 },
    };

    /// <summary>Rotary (nTok, nHeads, headDim, rotDim).</summary>
    public static TheoryData<int, int, int, int> Rope => new()
    {
        { 1, 1, 2, 2 }, { 3, 4, 64, 64 }, { 5, 3, 128, 64 }, { 2, 2, 80, 80 }, { 7, 32, 128, 128 },
    };

    /// <summary>Prefill attention (nTok, startPos, nHeads, nKvHeads, headDim).</summary>
    public static TheoryData<int, int, int, int, int> Prefill => new()
    {
        { 1, 0, 1, 1, 32 }, { 5, 0, 4, 4, 64 }, { 7, 3, 8, 2, 128 }, { 33, 10, 6, 3, 80 },
        { 3, 0, 2, 1, 256 }, { 2, 5, 4, 1, 17 }, { 70, 0, 25, 25, 64 },
    };

    /// <summary>Decode attention (kv lengths per slot, nHeads, nKvHeads, headDim, positions per split).</summary>
    public static TheoryData<int[], int, int, int, int> Decode => new()
    {
        { [1], 1, 1, 64, 64 }, { [1000], 32, 8, 128, 64 }, { [5, 300, 77], 4, 2, 64, 16 },
        { [4097, 1], 8, 8, 128, 256 }, { [33], 3, 1, 17, 5 }, { [129], 40, 40, 128, 1000 },
    };
}
