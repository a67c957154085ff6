using System.Globalization;
using System.Reflection;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Nnl.Cli;

/// <summary>
/// Turns records into text: JSON (one object per line, every property) or an aligned table of the
/// columns a type's [CliTable] attribute names (all scalar properties when it has none).
/// </summary>
public static class CliOutput
{
    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Converters = { new JsonStringEnumConverter() },
    };

    public static string ToJson(object record) => JsonSerializer.Serialize(record, record.GetType(), JsonOptions);

    /// <summary>Column lists per record type name, mirroring the PowerShell format files' default views.</summary>
    public static readonly Dictionary<string, string[]> Columns = new(StringComparer.Ordinal)
    {
        ["NnlMemoryPoolStatistics"] = ["Device", "Backing", "BudgetGiB", "ReservedGiB", "AllocatedGiB", "PeakReservedGiB", "LargestFreeBlockBytes", "UtilisationFragmentation", "ExternalFragmentation", "ActiveBlocks", "AllocationCount", "CacheHits", "DriverCalls", "Defragmentations", "OutOfMemoryCount"],
        ["NnlMemoryBlock"] = ["Device", "Offset", "Bytes", "State", "Owner", "AllocationId"],
        ["NnlMemoryEvent"] = ["Device", "Sequence", "TimeMilliseconds", "Operation", "Offset", "Bytes", "Owner", "AllocationId"],
        ["NnlMemoryReplayResult"] = ["Backing", "Allocations", "Tokens", "PeakRequestedBytes", "PeakReservedBytes", "ReservedOverRequested", "CacheHits", "HitMedianMicroseconds", "MissMedianMicroseconds", "DriverCallsPerToken", "SteadyDriverCallsPerToken", "Defragmentations", "Mismatches"],
        ["NnlMemoryTimelinePicture"] = ["Path", "Device", "Events", "Blocks", "OwnerGroups", "Bytes"],
        ["NnlMemoryTraceFile"] = ["Path", "Trace", "Events", "Allocations", "Tokens", "PeakLiveBytes"],
        ["NnlDevice"] = ["Index", "Name", "ComputeCapability", "Multiprocessors", "TotalMemoryMiB", "FreeMemoryMiB", "PcieGeneration", "PcieWidth", "DriverVersion", "VirtualMemoryManagement"],
        ["NnlTransferResult"] = ["Device", "Direction", "Leg", "HostMemory", "Mechanism", "Streams", "TensorCount", "Bytes", "MedianGBps", "MinGBps", "MaxGBps", "MedianMicroseconds", "Verified"],
        ["NnlGeneratedModel"] = ["Name", "Architecture", "Parameters", "Layers", "DType", "Seed", "WeightBytes", "Shards", "Seconds", "WriteGBps", "Path"],
        ["NnlInferenceBenchmark"] = ["Model", "Device", "BudgetBytes", "PrefetchDepth", "BatchSize", "PromptLength", "ResidentNodes", "StreamedBytesPerToken", "PrefillTokensPerSecond", "DecodeMillisecondsPerTokenMedian", "DecodeTokensPerSecond", "BoundMillisecondsPerToken", "Efficiency", "PcieGBps", "PeakGpuMemoryBytes"],
    };

    /// <summary>Records that are printed as text the moment they arrive (generated tokens).</summary>
    public static readonly Dictionary<string, Func<object, string>> Streamed = new(StringComparer.Ordinal);

    public static bool IsStreamed(object record) => Streamed.ContainsKey(record.GetType().Name);

    public static string StreamText(object record) => Streamed[record.GetType().Name](record);

    public static string Table(IReadOnlyList<object> records)
    {
        if (records.Count == 0) return "";
        var type = records[0].GetType();
        var props = ColumnProperties(type);
        var cells = records.Select(r => props.Select(p => Format(p.GetValue(r))).ToArray()).ToList();
        var widths = props.Select((p, i) => Math.Max(p.Name.Length, cells.Max(c => c[i].Length))).ToArray();
        var sb = new StringBuilder();
        sb.AppendLine(string.Join("  ", props.Select((p, i) => p.Name.PadRight(widths[i]))).TrimEnd());
        sb.AppendLine(string.Join("  ", widths.Select(w => new string('-', w))));
        foreach (var row in cells)
            sb.AppendLine(string.Join("  ", row.Select((c, i) => IsNumeric(props[i].PropertyType) ? c.PadLeft(widths[i]) : c.PadRight(widths[i]))).TrimEnd());
        sb.AppendLine();
        return sb.ToString();
    }

    private static PropertyInfo[] ColumnProperties(Type type)
    {
        var all = type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.GetIndexParameters().Length == 0).ToArray();
        if (Columns.TryGetValue(type.Name, out var names))
            return names.Select(n => all.FirstOrDefault(p => p.Name == n)).Where(p => p != null).ToArray()!;
        return all.Where(p => IsScalar(p.PropertyType)).ToArray();
    }

    private static bool IsScalar(Type t)
    {
        t = Nullable.GetUnderlyingType(t) ?? t;
        return t.IsPrimitive || t.IsEnum || t == typeof(string) || t == typeof(decimal) || t == typeof(DateTime) || t == typeof(DateTimeOffset) || t == typeof(TimeSpan);
    }

    private static bool IsNumeric(Type t)
    {
        t = Nullable.GetUnderlyingType(t) ?? t;
        return t.IsPrimitive && t != typeof(bool) && t != typeof(char);
    }

    public static string Format(object? value) => value switch
    {
        null => "",
        double d => d.ToString(Math.Abs(d) >= 100 ? "F1" : Math.Abs(d) >= 1 ? "F3" : "G4", CultureInfo.InvariantCulture),
        float f => ((double)f).ToString("G4", CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };
}
