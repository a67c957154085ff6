namespace Nnl.Engine.Transfer;

/// <summary>The size lists of a sweep, in decimal bytes as bandwidthTest counts them (1 KB = 1000 bytes).</summary>
public static class TransferSizes
{
    /// <summary>bandwidthTest's quick-mode size: 32 MB.</summary>
    public const long QuickBytes = 32_000_000;

    /// <summary>The upper end of the extended shmoo: 1 GB.</summary>
    public const long ExtendedMaxBytes = 1_000_000_000;

    private const long KB = 1000, MB = 1000 * KB;

    /// <summary>
    /// bandwidthTest's 81 shmoo sizes: 1–20 KB by 1 KB, 22–50 KB by 2 KB, 60–100 KB by 10 KB,
    /// 200 KB–1 MB by 100 KB, 2–16 MB by 1 MB, 18–32 MB by 2 MB, 36–68 MB by 4 MB. (Its loop adds the
    /// step before it stores a size and stops once a size exceeds 64 MB, hence 68 MB last.)
    /// </summary>
    public static IReadOnlyList<long> Shmoo { get; } = BuildShmoo();

    /// <summary>
    /// The shmoo continued to 1 GB for buffers the size of a model layer: 80–128 MB by 16 MB,
    /// 160–256 MB by 32 MB, 320–512 MB by 64 MB, 600 MB–1 GB by 100 MB (98 sizes in all).
    /// </summary>
    public static IReadOnlyList<long> ExtendedShmoo { get; } = Shmoo
        .Concat(Steps(80 * MB, 128 * MB, 16 * MB))
        .Concat(Steps(160 * MB, 256 * MB, 32 * MB))
        .Concat(Steps(320 * MB, 512 * MB, 64 * MB))
        .Concat(Steps(600 * MB, ExtendedMaxBytes, 100 * MB))
        .ToArray();

    /// <summary>start, start+step, ... up to and including end when it falls on a step (bandwidthTest's range mode).</summary>
    public static IReadOnlyList<long> Range(long start, long end, long step)
    {
        if (start <= 0) throw new NnlArgumentException("Range", $"the start size must be positive, not {start}");
        if (end < start) throw new NnlArgumentException("Range", $"the end size {end} is below the start size {start}");
        if (step <= 0) throw new NnlArgumentException("Range", $"the step must be positive, not {step}");
        long count = (end - start) / step + 1;
        if (count > 100_000) throw new NnlArgumentException("Range", $"{start},{end},{step} gives {count} sizes; use a larger step");
        return Steps(start, end, step).ToArray();
    }

    private static IEnumerable<long> Steps(long start, long end, long step)
    {
        for (long s = start; s <= end; s += step) yield return s;
    }

    private static long[] BuildShmoo()
    {
        var sizes = new List<long>();
        long size = 0;
        while (size <= 64 * MB)
        {
            size += size < 20 * KB ? 1 * KB
                : size < 50 * KB ? 2 * KB
                : size < 100 * KB ? 10 * KB
                : size < 1 * MB ? 100 * KB
                : size < 16 * MB ? 1 * MB
                : size < 32 * MB ? 2 * MB
                : 4 * MB;
            sizes.Add(size);
        }
        return sizes.ToArray();
    }
}
