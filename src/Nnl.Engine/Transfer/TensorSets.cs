namespace Nnl.Engine.Transfer;

/// <summary>Named tensor shape sets for the tensor-pattern comparison (sizes in bytes).</summary>
public static class TensorSets
{
    /// <summary>
    /// One Llama-2-7B decoder block in fp16: q, k, v, o projections 4096×4096; gate and up 11008×4096,
    /// down 4096×11008; input and post-attention RMSNorm weights of 4096. 202,383,360 parameters,
    /// 404,766,720 bytes.
    /// </summary>
    public static IReadOnlyList<long> Llama2_7BBlock { get; } = Fp16(
        4096 * 4096, 4096 * 4096, 4096 * 4096, 4096 * 4096,
        11008 * 4096, 11008 * 4096, 4096 * 11008,
        4096, 4096);

    public static IReadOnlyDictionary<string, IReadOnlyList<long>> ByName { get; } =
        new Dictionary<string, IReadOnlyList<long>>(StringComparer.OrdinalIgnoreCase)
        {
            ["llama-2-7b-block"] = Llama2_7BBlock,
        };

    public static IReadOnlyList<string> Names { get; } = ByName.Keys.ToArray();

    public static IReadOnlyList<long> Get(string name) =>
        ByName.TryGetValue(name, out var sizes) ? sizes
            : throw new NnlArgumentException("TensorSet", $"unknown tensor set '{name}' (known: {string.Join(", ", Names)})");

    private static long[] Fp16(params long[] elements) => elements.Select(e => e * 2).ToArray();
}
