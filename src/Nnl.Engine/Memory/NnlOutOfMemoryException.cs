namespace Nnl.Engine.Memory;

/// <summary>
/// A pool could not serve a request within its budget. Carries what was asked and the pool's state
/// at that moment; the pool itself is unchanged and stays usable (free something and retry).
/// </summary>
public sealed class NnlOutOfMemoryException : NnlException
{
    public NnlOutOfMemoryException(string pool, long requestedBytes, string owner, long budgetBytes, long reservedBytes, long allocatedBytes, long largestFreeBlockBytes)
        : base($"{pool}: cannot allocate {Units.Bytes(requestedBytes)} for '{owner}' within the budget of {Units.Bytes(budgetBytes)} " +
               $"(reserved {Units.Bytes(reservedBytes)}, allocated {Units.Bytes(allocatedBytes)}, largest free block {Units.Bytes(largestFreeBlockBytes)}). " +
               "Free allocations, lower the prefetch depth, or raise the budget.")
    {
        Pool = pool;
        RequestedBytes = requestedBytes;
        Owner = owner;
        BudgetBytes = budgetBytes;
        ReservedBytes = reservedBytes;
        AllocatedBytes = allocatedBytes;
        LargestFreeBlockBytes = largestFreeBlockBytes;
    }

    public string Pool { get; }
    public long RequestedBytes { get; }
    public string Owner { get; }
    public long BudgetBytes { get; }
    public long ReservedBytes { get; }
    public long AllocatedBytes { get; }
    public long LargestFreeBlockBytes { get; }

    public override string ErrorId => "PoolOutOfMemory";
    public override string Category => "LimitsExceeded";
}

/// <summary>Byte counts as people read them (binary units).</summary>
internal static class Units
{
    public static string Bytes(long bytes)
    {
        double b = Math.Abs((double)bytes);
        string sign = bytes < 0 ? "-" : "";
        return b switch
        {
            >= 1L << 30 => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{sign}{b / (1L << 30):F2} GiB"),
            >= 1L << 20 => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{sign}{b / (1L << 20):F1} MiB"),
            >= 1L << 10 => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{sign}{b / (1L << 10):F1} KiB"),
            _ => $"{bytes} B",
        };
    }
}
