using System.Text;

namespace Nnl.Engine.Models.Synthetic;

/// <summary>
/// Random weights computed on demand: element i of a tensor depends only on the seed, the tensor's
/// name and i (a counter-based generator: splitmix64 of key + ⌊i/4⌋·γ gives four 16-bit draws),
/// so any byte range can be produced on any thread in any order and the result never depends on
/// the thread count. The same seed gives the same model on every machine.
/// As an <see cref="IWeightSource"/> for the offload engine, it fills pinned per-node buffers straight
/// from the generator: an -InMemory model on a GPU never exists anywhere but in pinned memory and on the device.
/// </summary>
public sealed unsafe class SyntheticWeights : IWeightSource
{
    /// <summary>transformers' initializer_range.</summary>
    public const double InitStd = 0.02;

    private const ulong Gamma = 0x9E3779B97F4A7C15UL;
    private const long ParallelPieceElements = 1 << 22;

    private readonly Dictionary<string, (ulong Key, NormalTable Table, TensorDType DType)> _byName = new(StringComparer.Ordinal);

    public SyntheticWeights(string name, IReadOnlyList<TensorInfo> tensors, IReadOnlyList<SyntheticTensor> specs, int seed)
    {
        if (tensors.Count != specs.Count) throw new ArgumentException("One spec per tensor is needed.");
        Name = name;
        Tensors = tensors;
        Seed = seed;
        for (var i = 0; i < tensors.Count; i++)
        {
            var t = tensors[i];
            var (mean, std) = specs[i].Init switch
            {
                WeightInit.NormScale => (1.0, InitStd),
                _ => (0.0, InitStd),
            };
            _byName.Add(t.Name, (TensorKey(seed, t.Name), NormalTable.For(t.DType, mean, std), t.DType));
        }
    }

    public string Name { get; }
    public IReadOnlyList<TensorInfo> Tensors { get; }
    public int Seed { get; }

    /// <summary>Writes the whole tensor, spread over the cores.</summary>
    public void CopyTo(TensorInfo tensor, byte* destination)
    {
        var count = tensor.ElementCount;
        var pieces = (int)((count + ParallelPieceElements - 1) / ParallelPieceElements);
        if (pieces <= 1)
        {
            Fill(tensor, 0, count, destination);
            return;
        }
        var elementBytes = tensor.DType.ElementBytes();
        var dest = (nint)destination;
        Parallel.For(0, pieces, p =>
        {
            var first = p * ParallelPieceElements;
            Fill(tensor, first, Math.Min(ParallelPieceElements, count - first), (byte*)dest + first * elementBytes);
        });
    }

    /// <summary>Writes elements [<paramref name="first"/>, first + count) of <paramref name="tensor"/> to <paramref name="destination"/> (single-threaded).</summary>
    public void Fill(TensorInfo tensor, long first, long count, byte* destination)
    {
        if (!_byName.TryGetValue(tensor.Name, out var g)) throw new ArgumentException($"{tensor.Name} is not part of {Name}.");
        if (first < 0 || count < 0 || first + count > tensor.ElementCount) throw new ArgumentOutOfRangeException(nameof(first));
        fixed (uint* table = g.Table.Bits)
        {
            if (g.DType == TensorDType.F32) Generate((uint*)destination, table, g.Key, first, first + count);
            else Generate((ushort*)destination, table, g.Key, first, first + count);
        }
    }

    /// <summary>
    /// The inner loop, once per element width: elements one by one up to a multiple of four, then
    /// four per splitmix64 draw (the hot path: one mix, four table reads), then the rest.
    /// </summary>
    private static void Generate<T>(T* o, uint* table, ulong key, long i, long end) where T : unmanaged
    {
        for (; i < end && (i & 3) != 0; i++)
            Store(o++, table[(Mix(key + (ulong)(i >> 2) * Gamma) >> (int)((i & 3) * 16)) & 0xFFFF]);
        for (; i + 4 <= end; i += 4, o += 4)
        {
            var r = Mix(key + (ulong)(i >> 2) * Gamma);
            Store(o, table[r & 0xFFFF]);
            Store(o + 1, table[(r >> 16) & 0xFFFF]);
            Store(o + 2, table[(r >> 32) & 0xFFFF]);
            Store(o + 3, table[r >> 48]);
        }
        for (; i < end; i++)
            Store(o++, table[(Mix(key + (ulong)(i >> 2) * Gamma) >> (int)((i & 3) * 16)) & 0xFFFF]);
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static void Store<T>(T* at, uint bits) where T : unmanaged
    {
        if (typeof(T) == typeof(uint)) *(uint*)at = bits;
        else *(ushort*)at = (ushort)bits;
    }

    /// <summary>Element <paramref name="index"/> as a float (for tests and spot checks).</summary>
    public float Value(TensorInfo tensor, long index)
    {
        uint bits = 0;
        Fill(tensor, index, 1, (byte*)&bits);
        return NormalTable.Decode(tensor.DType, bits);
    }

    private static ulong TensorKey(int seed, string name)
    {
        // FNV-1a of the name: stable across processes (string.GetHashCode is randomised).
        var h = 0xcbf29ce484222325UL;
        foreach (var b in Encoding.UTF8.GetBytes(name)) h = (h ^ b) * 0x100000001b3UL;
        return Mix(h ^ Mix((ulong)(uint)seed));
    }

    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
